// Validates an Ethernet frame and locates its headers. Everything the worker later touches is
// checked here once: lengths against the buffer, IHL, total length, header checksum, fragments,
// TCP data offset and UDP length; for IPv6 the payload length and the extension header chain.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "dataplane/counters.hpp"
#include "dataplane/flow_key.hpp"

namespace lb::dataplane {

enum class FrameKind : std::uint8_t { drop, arp, icmp, tcp, udp, vrrp, tcp6, udp6, icmp6 };

constexpr std::uint8_t vrrp_protocol = 112;

struct ParsedFrame {
    // Written out: a union member with default member initializers, as FlowKey6 has, leaves
    // the implicit constructor deleted.
    ParsedFrame() noexcept : key() {}

    FrameKind kind = FrameKind::drop;
    DropReason drop_reason = DropReason::truncated;
    // The small fields first, in what would be padding: the IPv6 key is the only growth.
    std::uint8_t tcp_flags = 0;
    std::uint16_t l4_length = 0; // the upper layer's: after IPv4 options or IPv6 extensions
    rte_ether_hdr* eth = nullptr;
    rte_ipv4_hdr* ip = nullptr;  // IPv4 frames (icmp, tcp, udp, vrrp)
    rte_ipv6_hdr* ip6 = nullptr; // IPv6 frames (icmp6, tcp6, udp6)
    std::uint8_t* l4 = nullptr;  // first byte after the IP header, its options or extensions
    // key for tcp and udp, key6 for tcp6 and udp6. A union, so that an IPv4 frame still costs
    // a 16-byte key to clear and to carry through the burst.
    union {
        FlowKey key;
        FlowKey6 key6;
    };
};

namespace detail {

inline void dropped(ParsedFrame& f, DropReason r) {
    f.kind = FrameKind::drop;
    f.drop_reason = r;
}

inline bool refused(ParsedFrame& f, DropReason r) {
    dropped(f, r);
    return false;
}

// A bound on the walk, whatever a packet claims. Real traffic carries one or two (hop-by-hop
// for MLD, a fragment header); RFC 8200 4.1 expects each kind at most once, destination
// options twice.
constexpr std::uint32_t ipv6_max_extension_headers = 8;

// Fragment header's offset (bits 15-3) and M flag (bit 0); bits 2-1 are reserved.
constexpr std::uint16_t ipv6_fragment_offset_and_more = 0xfff9;

// Walks the extension headers that may precede the upper layer. On entry `next`, `at`, `left`
// and `in_head` describe the first header after the fixed one (its protocol, address, the bytes
// of payload from there, the bytes of the first segment from there); on success they describe
// the upper-layer header. Not rte_ipv6_get_next_ext: experimental API, and no bounds checks.
inline bool skip_ipv6_extensions(ParsedFrame& f, std::uint8_t& next, std::uint8_t*& at,
                                 std::uint32_t& left, std::uint32_t& in_head) noexcept {
    for (std::uint32_t count = 0;; ++count) {
        if (next != IPPROTO_HOPOPTS && next != IPPROTO_DSTOPTS && next != IPPROTO_ROUTING &&
            next != IPPROTO_FRAGMENT)
            return true;
        // Hop-by-hop options are only allowed right after the fixed header (RFC 8200 4.1).
        if ((next == IPPROTO_HOPOPTS && count != 0) || count == ipv6_max_extension_headers)
            return refused(f, DropReason::bad_ip_header);
        // Every extension header is a multiple of 8 bytes: checking 8 first makes its length
        // byte readable.
        if (left < 8)
            return refused(f, DropReason::bad_ip_header);
        if (in_head < 8)
            return refused(f, DropReason::truncated);
        const std::uint32_t length = next == IPPROTO_FRAGMENT ? 8 : (at[1] + 1u) * 8;
        if (length > left)
            return refused(f, DropReason::bad_ip_header);
        // Headers are read from the first segment only (RFC 7112 keeps the chain in one piece).
        if (length > in_head)
            return refused(f, DropReason::truncated);
        // Segments left: we are a waypoint of a source route, not its destination; a real
        // server must not get the packet in the route's place.
        if (next == IPPROTO_ROUTING && at[3] != 0)
            return refused(f, DropReason::ipv6_routing_header);
        if (next == IPPROTO_FRAGMENT) {
            std::uint16_t fragment_data;
            std::memcpy(&fragment_data, at + 2, 2);
            // lb does not reassemble, as for IPv4. An atomic fragment (offset 0, M clear) is a
            // whole packet, which older stacks send after a Packet Too Big below 1280
            // (RFC 6946): skipped.
            if (rte_be_to_cpu_16(fragment_data) & ipv6_fragment_offset_and_more)
                return refused(f, DropReason::fragment);
        }
        next = at[0];
        at += length;
        left -= length;
        in_head -= length;
    }
}

// The TCP header at f.l4, checked alike for both families: in the first segment (`in_head`
// bytes from f.l4 on), its data offset inside the upper layer. Inlined by force: the IPv4
// parse compiles to the instructions it had when these checks were written out in it.
template <FrameKind kind, typename Key>
[[gnu::always_inline]] inline bool tcp_header(ParsedFrame& f, Key& key,
                                              std::uint32_t in_head) noexcept {
    if (f.l4_length < sizeof(rte_tcp_hdr) || in_head < sizeof(rte_tcp_hdr))
        return refused(f, DropReason::truncated);
    const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(f.l4);
    const std::uint32_t data_offset = (tcp->data_off >> 4) * 4u;
    if (data_offset < sizeof(rte_tcp_hdr) || data_offset > f.l4_length)
        return refused(f, DropReason::bad_l4_header);
    f.kind = kind;
    f.tcp_flags = tcp->tcp_flags;
    key.src_port = tcp->src_port;
    key.dst_port = tcp->dst_port;
    return true;
}

// The UDP header at f.l4, as tcp_header: its length inside the upper layer.
template <FrameKind kind, typename Key>
[[gnu::always_inline]] inline bool udp_header(ParsedFrame& f, Key& key,
                                              std::uint32_t in_head) noexcept {
    if (f.l4_length < sizeof(rte_udp_hdr) || in_head < sizeof(rte_udp_hdr))
        return refused(f, DropReason::truncated);
    const auto* udp = reinterpret_cast<const rte_udp_hdr*>(f.l4);
    const std::uint16_t udp_length = rte_be_to_cpu_16(udp->dgram_len);
    if (udp_length < sizeof(rte_udp_hdr) || udp_length > f.l4_length)
        return refused(f, DropReason::bad_l4_header);
    // "No checksum" is allowed over IPv4 only: an IPv6 receiver must discard it
    // (RFC 8200 8.1), and NAT66 could not update a checksum that is not there.
    if (kind == FrameKind::udp6 && udp->dgram_cksum == 0)
        return refused(f, DropReason::bad_l4_header);
    f.kind = kind;
    key.src_port = udp->src_port;
    key.dst_port = udp->dst_port;
    return true;
}

// The upper layer of an IPv6 frame at f.l4: the same checks as IPv4's, plus RFC 8200's rule on
// UDP checksums. `in_head` is what the first segment holds from f.l4 on.
inline void parse_ipv6_upper_layer(ParsedFrame& f, std::uint8_t next,
                                   std::uint32_t in_head) noexcept {
    switch (next) {
    case IPPROTO_TCP:
        if (!tcp_header<FrameKind::tcp6>(f, f.key6, in_head))
            return;
        break;
    case IPPROTO_UDP:
        if (!udp_header<FrameKind::udp6>(f, f.key6, in_head))
            return;
        break;
    case IPPROTO_ICMPV6:
        if (f.l4_length < 4 || in_head < 4) // type, code, checksum
            return dropped(f, DropReason::truncated);
        f.kind = FrameKind::icmp6;
        return;
    default:
        // No next header (59), ESP, AH and the rest: nothing lb serves, as IPv4's unknown
        // protocols.
        return dropped(f, DropReason::no_service);
    }
    std::memcpy(f.key6.src, f.ip6->src_addr, sizeof(f.key6.src));
    std::memcpy(f.key6.dst, f.ip6->dst_addr, sizeof(f.key6.dst));
    f.key6.protocol = next;
}

// Out of line, called from parse_frame's branch for frames that are not IPv4: the IPv4 parse
// stays as compact as it was before IPv6.
[[gnu::noinline]] inline void parse_ipv6(rte_mbuf* m, ParsedFrame& f) noexcept {
    std::construct_at(&f.key6); // zeroed, and the union's member from here on
    f.ip = nullptr;
    constexpr std::uint32_t fixed = sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr);
    const std::uint32_t head = rte_pktmbuf_data_len(m); // headers must be in the first segment
    const std::uint32_t total = rte_pktmbuf_pkt_len(m);
    if (head < fixed)
        return dropped(f, DropReason::truncated);
    f.ip6 = reinterpret_cast<rte_ipv6_hdr*>(f.eth + 1);
    if ((rte_be_to_cpu_32(f.ip6->vtc_flow) >> 28) != 6)
        return dropped(f, DropReason::bad_ip_header);
    // 0 announces a jumbogram (RFC 2675), which no Ethernet frame carries. Bytes beyond the
    // payload are padding, as after an IPv4 total length.
    const std::uint32_t payload = rte_be_to_cpu_16(f.ip6->payload_len);
    if (payload == 0 || payload > total - fixed)
        return dropped(f, DropReason::bad_ip_header);
    std::uint8_t next = f.ip6->proto;
    std::uint8_t* at = reinterpret_cast<std::uint8_t*>(f.ip6 + 1);
    std::uint32_t left = payload;
    std::uint32_t in_head = head - fixed;
    if (!skip_ipv6_extensions(f, next, at, left, in_head))
        return;
    f.l4 = at;
    f.l4_length = static_cast<std::uint16_t>(left);
    parse_ipv6_upper_layer(f, next, in_head);
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
    std::construct_at(&f.key); // zeroed, and the union's member from here on
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
    if (ether_type != RTE_ETHER_TYPE_IPV4) {
        if (ether_type == RTE_ETHER_TYPE_IPV6)
            return detail::parse_ipv6(m, f);
        return detail::dropped(f, DropReason::not_ip);
    }
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
    case IPPROTO_TCP:
        if (!detail::tcp_header<FrameKind::tcp>(f, f.key, l4_in_head))
            return;
        break;
    case IPPROTO_UDP:
        if (!detail::udp_header<FrameKind::udp>(f, f.key, l4_in_head))
            return;
        break;
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
