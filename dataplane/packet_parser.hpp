// Validates an Ethernet frame and locates its headers. Everything the worker later touches is
// checked here once: lengths against the buffer, IHL, total length, header checksum, fragments,
// TCP data offset and UDP length.
#pragma once

#include <cstdint>
#include <cstring>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

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

namespace detail {

inline void dropped(ParsedFrame& f, DropReason r) {
    f.kind = FrameKind::drop;
    f.drop_reason = r;
}

} // namespace detail

// True when the IPv4 header (with options) sums to 0xffff: 32-bit loads into a 64-bit
// accumulator, folded once, instead of a 16-bit loop.
inline bool ipv4_header_checksum_ok(const rte_ipv4_hdr* ip, std::uint32_t header_length) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(ip);
    std::uint64_t sum = 0;
    for (std::uint32_t i = 0; i < header_length; i += 4) {
        std::uint32_t word;
        std::memcpy(&word, p + i, 4);
        sum += word;
    }
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

// Fills `f` (written in place: the worker parses straight into its per-burst array). Inline,
// in this header, so that it is compiled into the worker's burst loop: as a call it was 15%
// of the established path (docs/design.md, "Profile").
inline void parse_frame(rte_mbuf* m, ParsedFrame& f) noexcept {
    f.kind = FrameKind::drop;
    f.key = FlowKey{};
    const std::uint32_t head = rte_pktmbuf_data_len(m); // headers must be in the first segment
    const std::uint32_t total = rte_pktmbuf_pkt_len(m);
    if (head < sizeof(rte_ether_hdr))
        return detail::dropped(f, DropReason::truncated);
    f.eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    const std::uint16_t ether_type = rte_be_to_cpu_16(f.eth->ether_type);
    if (ether_type == RTE_ETHER_TYPE_ARP) {
        if (head < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr))
            return detail::dropped(f, DropReason::truncated);
        f.kind = FrameKind::arp;
        return;
    }
    if (ether_type != RTE_ETHER_TYPE_IPV4)
        return detail::dropped(f, DropReason::not_ipv4);
    if (head < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr))
        return detail::dropped(f, DropReason::truncated);
    f.ip = reinterpret_cast<rte_ipv4_hdr*>(f.eth + 1);
    if ((f.ip->version_ihl >> 4) != 4)
        return detail::dropped(f, DropReason::bad_ip_header);
    const std::uint32_t ip_header_length = (f.ip->version_ihl & 0x0f) * 4u;
    if (ip_header_length < sizeof(rte_ipv4_hdr))
        return detail::dropped(f, DropReason::bad_ip_header);
    if (head < sizeof(rte_ether_hdr) + ip_header_length)
        return detail::dropped(f, DropReason::truncated);
    const std::uint32_t ip_total = rte_be_to_cpu_16(f.ip->total_length);
    if (ip_total < ip_header_length || ip_total > total - sizeof(rte_ether_hdr))
        return detail::dropped(f, DropReason::bad_ip_header);
    // The NIC's verdict when it gave one (GOOD, or NONE: header verified, checksum field not
    // filled in); our own sum otherwise. 8% of the established path's time on a device
    // without the offload (docs/design.md, "Profile").
    const std::uint64_t verdict = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
    if (verdict == RTE_MBUF_F_RX_IP_CKSUM_BAD || (verdict == RTE_MBUF_F_RX_IP_CKSUM_UNKNOWN &&
                                                  !ipv4_header_checksum_ok(f.ip, ip_header_length)))
        return detail::dropped(f, DropReason::bad_ip_header);
    if (rte_be_to_cpu_16(f.ip->fragment_offset) & (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK))
        return detail::dropped(f, DropReason::fragment);
    f.l4 = reinterpret_cast<std::uint8_t*>(f.ip) + ip_header_length;
    f.l4_length = static_cast<std::uint16_t>(ip_total - ip_header_length);
    const std::uint32_t l4_in_head = head - sizeof(rte_ether_hdr) - ip_header_length;
    switch (f.ip->next_proto_id) {
    case IPPROTO_ICMP:
        if (f.l4_length < 8 || l4_in_head < 8)
            return detail::dropped(f, DropReason::truncated);
        f.kind = FrameKind::icmp;
        return;
    case IPPROTO_TCP: {
        if (f.l4_length < sizeof(rte_tcp_hdr) || l4_in_head < sizeof(rte_tcp_hdr))
            return detail::dropped(f, DropReason::truncated);
        const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(f.l4);
        const std::uint32_t data_offset = (tcp->data_off >> 4) * 4u;
        if (data_offset < sizeof(rte_tcp_hdr) || data_offset > f.l4_length)
            return detail::dropped(f, DropReason::bad_l4_header);
        f.kind = FrameKind::tcp;
        f.tcp_flags = tcp->tcp_flags;
        f.key.src_port = tcp->src_port;
        f.key.dst_port = tcp->dst_port;
        break;
    }
    case IPPROTO_UDP: {
        if (f.l4_length < sizeof(rte_udp_hdr) || l4_in_head < sizeof(rte_udp_hdr))
            return detail::dropped(f, DropReason::truncated);
        const auto* udp = reinterpret_cast<const rte_udp_hdr*>(f.l4);
        const std::uint32_t udp_length = rte_be_to_cpu_16(udp->dgram_len);
        if (udp_length < sizeof(rte_udp_hdr) || udp_length > f.l4_length)
            return detail::dropped(f, DropReason::bad_l4_header);
        f.kind = FrameKind::udp;
        f.key.src_port = udp->src_port;
        f.key.dst_port = udp->dst_port;
        break;
    }
    case vrrp_protocol:
        f.kind = FrameKind::vrrp; // validated by the control thread, which runs VRRP
        return;
    default:
        return detail::dropped(f, DropReason::no_service);
    }
    f.key.src_ip = f.ip->src_addr;
    f.key.dst_ip = f.ip->dst_addr;
    f.key.protocol = f.ip->next_proto_id;
}

} // namespace lb::dataplane
