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

enum class FrameKind : std::uint8_t { drop, arp, icmp, tcp, udp };

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

ParsedFrame parse_frame(rte_mbuf* m);

} // namespace lb::dataplane
