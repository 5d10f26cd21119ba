// Validates an Ethernet frame and locates its headers. Everything the worker later touches is
// checked here once: lengths against the buffer, IHL, total length, header checksum, fragments,
// TCP data offset and UDP length.
#pragma once

#include <cstdint>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/counters.hpp"
#include "dataplane/flow_key.hpp"

namespace lb::dataplane {

enum class FrameKind : std::uint8_t { drop, arp, icmp, tcp, udp, vrrp };

constexpr std::uint8_t vrrp_protocol = 112;

struct ParsedFrame {
    FrameKind kind = FrameKind::drop;
    DropReason drop_reason = DropReason::truncated;
    rte_ether_hdr* eth = nullptr;
    rte_ipv4_hdr* ip = nullptr; // IPv4 frames
    std::uint8_t* l4 = nullptr; // first byte after the IPv4 header and its options
    std::uint16_t l4_length = 0;
    std::uint8_t tcp_flags = 0;
    FlowKey key; // tcp and udp
};

// Fills `f` (written in place: the worker parses straight into its per-burst array).
void parse_frame(rte_mbuf* m, ParsedFrame& f) noexcept;

// True when the IPv4 header (with options) sums to 0xffff: 32-bit loads into a 64-bit
// accumulator, folded once, instead of a 16-bit loop.
bool ipv4_header_checksum_ok(const rte_ipv4_hdr* ip, std::uint32_t header_length);

} // namespace lb::dataplane
