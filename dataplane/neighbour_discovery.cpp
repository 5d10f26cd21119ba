#include "dataplane/neighbour_discovery.hpp"

#include <cstring>

#include <rte_byteorder.h>

namespace lb::dataplane {

namespace {

// RFC 4861 4.4: the NA's flags, the first byte after the checksum.
constexpr std::uint8_t na_router = 0x80;
constexpr std::uint8_t na_solicited = 0x40;
constexpr std::uint8_t na_override = 0x20;

constexpr std::uint32_t na_frame_length =
    sizeof(rte_ether_hdr) + sizeof(rte_ipv6_hdr) + nd_message_length + nd_link_layer_option_length;

bool is_multicast(const std::uint8_t* address) {
    return address[0] == 0xff;
}

bool is_unspecified(const std::uint8_t* address) {
    for (int i = 0; i < 16; ++i)
        if (address[i] != 0)
            return false;
    return true;
}

// The checks both messages share (RFC 4861 7.1.1 and 7.1.2). The hop limit proves the sender
// is on the link: a router would have decremented it, so an off-link host cannot poison the
// cache or draw answers.
bool nd_message_ok(const rte_mbuf* m, const ParsedFrame& f, std::uint8_t type) {
    if (f.kind != FrameKind::icmp6 || f.l4_length < nd_message_length)
        return false;
    // The parser checked the payload against the whole chain, and the first 4 bytes of the
    // upper layer against the first segment: the message is read from there alone.
    const auto* head_end = rte_pktmbuf_mtod(m, const std::uint8_t*) + rte_pktmbuf_data_len(m);
    if (f.l4 + f.l4_length > head_end)
        return false;
    if (f.ip6->hop_limits != 255 || f.l4[0] != type || f.l4[1] != 0)
        return false;
    if (is_multicast(f.l4 + 8) || is_multicast(f.ip6->src_addr))
        return false;
    return icmp6_checksum_ok(f.ip6, f.l4, f.l4_length);
}

// Walks the options after the fixed part of the message: every one of non-zero length and
// inside the message (7.1.1: a zero length would loop forever in a naive reader, an overlong
// one reads past the packet). `link_layer` gets the first option of `type`, which must be
// Ethernet's 8 bytes; options of other types are skipped (RFC 4861 4.6: ignored).
bool options_ok(const ParsedFrame& f, std::uint8_t type, const std::uint8_t*& link_layer) {
    const std::uint8_t* at = f.l4 + nd_message_length;
    std::uint32_t left = f.l4_length - nd_message_length;
    while (left != 0) {
        if (left < 2) // not even the type and length bytes
            return false;
        const std::uint32_t length = at[1] * 8u;
        if (length == 0 || length > left)
            return false;
        if (at[0] == type) {
            if (length != nd_link_layer_option_length)
                return false;
            if (link_layer == nullptr)
                link_layer = at + 2;
        }
        at += length;
        left -= length;
    }
    return true;
}

} // namespace

std::uint16_t icmp6_checksum(const rte_ipv6_hdr* ip, const std::uint8_t* icmp,
                             std::uint32_t length) noexcept {
    const std::uint32_t be_length = rte_cpu_to_be_32(length);
    const std::uint32_t be_next_header = rte_cpu_to_be_32(IPPROTO_ICMPV6);
    // Source and destination are adjacent: one 32-byte sum.
    std::uint32_t sum = rte_raw_cksum(ip->src_addr, 32);
    sum += rte_raw_cksum(&be_length, 4);
    sum += rte_raw_cksum(&be_next_header, 4);
    sum += rte_raw_cksum(icmp, length);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

bool is_solicited_node_multicast(const std::uint8_t* address) noexcept {
    static constexpr std::uint8_t prefix[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};
    return std::memcmp(address, prefix, sizeof(prefix)) == 0;
}

bool parse_neighbour_solicitation(const rte_mbuf* m, const ParsedFrame& f,
                                  NeighbourSolicitation& out) noexcept {
    if (!nd_message_ok(m, f, icmp6_neighbour_solicitation))
        return false;
    const std::uint8_t* source_link_layer = nullptr;
    if (!options_ok(f, nd_option_source_link_layer, source_link_layer))
        return false;
    const bool dad = is_unspecified(f.ip6->src_addr);
    // A DAD probe comes from no address yet: it can only be sent to the group of the address
    // it tests, and has no address to bind a link-layer address to (7.1.1).
    if (dad && (!is_solicited_node_multicast(f.ip6->dst_addr) || source_link_layer != nullptr))
        return false;
    out.target = f.l4 + 8;
    out.source_link_layer = source_link_layer;
    out.duplicate_address_detection = dad;
    return true;
}

bool parse_neighbour_advertisement(const rte_mbuf* m, const ParsedFrame& f,
                                   NeighbourAdvertisement& out) noexcept {
    if (!nd_message_ok(m, f, icmp6_neighbour_advertisement))
        return false;
    const std::uint8_t flags = f.l4[4];
    // Solicited answers go to the solicitor alone (7.1.2).
    if ((flags & na_solicited) && is_multicast(f.ip6->dst_addr))
        return false;
    const std::uint8_t* target_link_layer = nullptr;
    if (!options_ok(f, nd_option_target_link_layer, target_link_layer))
        return false;
    out.target = f.l4 + 8;
    out.target_link_layer = target_link_layer;
    out.router = (flags & na_router) != 0;
    out.solicited = (flags & na_solicited) != 0;
    out.override = (flags & na_override) != 0;
    return true;
}

bool make_neighbour_advertisement(rte_mbuf* m, const ParsedFrame& f,
                                  const NeighbourSolicitation& ns, const rte_ether_addr& mac,
                                  bool router) noexcept {
    // Checked before anything is written, so that a refusal leaves the frame as it came. A
    // chain is not shortened: a solicitation small enough to answer never needs one.
    const std::uint32_t have = rte_pktmbuf_data_len(m);
    if (m->next != nullptr ||
        (have < na_frame_length && rte_pktmbuf_tailroom(m) < na_frame_length - have))
        return false;
    // What the reply takes from the solicitation, copied out: the rebuild overwrites it.
    std::uint8_t target[16];
    std::memcpy(target, ns.target, sizeof(target));
    std::uint8_t destination[16];
    rte_ether_addr destination_mac;
    if (ns.duplicate_address_detection) {
        // The prober has no address yet: all nodes hear that the address is taken (7.2.4).
        static constexpr std::uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                                       0,    0,    0, 0, 0, 0, 0, 1};
        std::memcpy(destination, all_nodes, sizeof(destination));
        // RFC 2464 7: 33:33 and the group's last 32 bits.
        destination_mac = rte_ether_addr{{0x33, 0x33, 0, 0, 0, 1}};
    } else {
        std::memcpy(destination, f.ip6->src_addr, sizeof(destination));
        // The address the solicitor asked to be answered at, as a neighbour cache updated from
        // the SLLA would give (7.2.3); the frame's source without one.
        if (ns.source_link_layer != nullptr)
            std::memcpy(destination_mac.addr_bytes, ns.source_link_layer, RTE_ETHER_ADDR_LEN);
        else
            destination_mac = f.eth->src_addr;
    }
    if (have > na_frame_length)
        rte_pktmbuf_trim(m, static_cast<std::uint16_t>(have - na_frame_length));
    else if (have < na_frame_length)
        rte_pktmbuf_append(m, static_cast<std::uint16_t>(na_frame_length - have));

    rte_ether_hdr* eth = f.eth;
    eth->dst_addr = destination_mac;
    eth->src_addr = mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    ip->vtc_flow = rte_cpu_to_be_32(6u << 28); // traffic class and flow label 0
    ip->payload_len = rte_cpu_to_be_16(nd_message_length + nd_link_layer_option_length);
    ip->proto = IPPROTO_ICMPV6; // no extension headers, whatever the solicitation had
    ip->hop_limits = 255;       // else the solicitor discards it (7.1.2)
    std::memcpy(ip->src_addr, target, sizeof(target));
    std::memcpy(ip->dst_addr, destination, sizeof(destination));
    auto* icmp = reinterpret_cast<std::uint8_t*>(ip + 1);
    std::memset(icmp, 0, nd_message_length + nd_link_layer_option_length);
    icmp[0] = icmp6_neighbour_advertisement;
    // O=1: the answer is authoritative, it replaces a cached MAC (after a VRRP takeover the
    // virtual MAC must win). S=0 for DAD: nobody solicited this address's owner (7.2.4).
    icmp[4] = static_cast<std::uint8_t>((router ? na_router : 0) |
                                        (ns.duplicate_address_detection ? 0 : na_solicited) |
                                        na_override);
    std::memcpy(icmp + 8, target, sizeof(target));
    std::uint8_t* option = icmp + nd_message_length;
    option[0] = nd_option_target_link_layer;
    option[1] = 1; // in units of 8 bytes
    std::memcpy(option + 2, mac.addr_bytes, RTE_ETHER_ADDR_LEN);
    const std::uint16_t checksum =
        icmp6_checksum(ip, icmp, nd_message_length + nd_link_layer_option_length);
    std::memcpy(icmp + 2, &checksum, sizeof(checksum));
    return true;
}

} // namespace lb::dataplane
