#include "dataplane/tunnel.hpp"

#include <cstring>

#include <rte_byteorder.h>
#include <rte_icmp.h>

#include "dataplane/checksum.hpp"

namespace lb::dataplane {

namespace {

constexpr std::uint8_t ipip_protocol = 4; // IPPROTO_IPIP
constexpr std::uint8_t icmp_dest_unreachable = 3;
constexpr std::uint8_t icmp_frag_needed = 4;

} // namespace

bool encapsulate_ipip(rte_mbuf* m, std::uint32_t outer_src, std::uint32_t outer_dst,
                      const rte_ether_addr& src_mac, const rte_ether_addr& dst_mac) {
    const auto* inner = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    // Read before the prepend: the outer header is written over the old Ethernet header.
    const std::uint8_t tos = inner->type_of_service;
    const rte_be16_t id = inner->packet_id;
    const rte_be16_t df = inner->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    const std::uint16_t inner_length = rte_be_to_cpu_16(inner->total_length);
    char* start = rte_pktmbuf_prepend(m, ipip_overhead);
    if (!start)
        return false;
    auto* eth = reinterpret_cast<rte_ether_hdr*>(start);
    eth->dst_addr = dst_mac;
    eth->src_addr = src_mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto* outer = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    outer->version_ihl = RTE_IPV4_VHL_DEF;
    outer->type_of_service = tos; // RFC 2003 3.1: copied, so the path treats it alike
    outer->total_length =
        rte_cpu_to_be_16(static_cast<std::uint16_t>(inner_length + ipip_overhead));
    // The inner identification is unique for its source already; a router that must fragment
    // the outer packet (DF clear) gives the real server fragments it can reassemble.
    outer->packet_id = id;
    outer->fragment_offset = df; // RFC 2003 5.1: DF set inside means DF set outside
    outer->time_to_live = 64;
    outer->next_proto_id = ipip_protocol;
    outer->src_addr = outer_src;
    outer->dst_addr = outer_dst;
    // Summed from the values in registers (host order), not read back from the header: loading
    // words just written by narrower stores stalls store forwarding, which made this the
    // tunnel's largest cost.
    const std::uint32_t src = rte_be_to_cpu_32(outer_src);
    const std::uint32_t dst = rte_be_to_cpu_32(outer_dst);
    const std::uint32_t sum = (RTE_IPV4_VHL_DEF << 8 | tos) + inner_length + ipip_overhead +
                              rte_be_to_cpu_16(id) + rte_be_to_cpu_16(df) +
                              (64u << 8 | ipip_protocol) + (src >> 16) + (src & 0xffff) +
                              (dst >> 16) + (dst & 0xffff);
    outer->hdr_checksum = rte_cpu_to_be_16(static_cast<std::uint16_t>(~checksum_fold(sum)));
    return true;
}

bool make_icmp_frag_needed(rte_mbuf* m, rte_ipv4_hdr* ip, std::uint16_t next_hop_mtu,
                           const rte_ether_addr& our_mac) {
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    const std::uint32_t quoted = (ip->version_ihl & 0x0f) * 4u + 8;
    const std::uint32_t error_length = sizeof(rte_ipv4_hdr) + sizeof(rte_icmp_hdr) + quoted;
    const std::uint32_t frame_length = sizeof(rte_ether_hdr) + error_length;
    if (rte_pktmbuf_data_len(m) < frame_length)
        return false;
    const std::uint32_t client = ip->src_addr;
    const std::uint32_t vip = ip->dst_addr;
    // The quoted header and 8 bytes move behind the new IPv4 and ICMP headers.
    auto* l3 = reinterpret_cast<std::uint8_t*>(eth + 1);
    std::uint8_t* quote = l3 + sizeof(rte_ipv4_hdr) + sizeof(rte_icmp_hdr);
    std::memmove(quote, l3, quoted);

    auto* icmp = reinterpret_cast<rte_icmp_hdr*>(l3 + sizeof(rte_ipv4_hdr));
    icmp->icmp_type = icmp_dest_unreachable;
    icmp->icmp_code = icmp_frag_needed;
    icmp->icmp_cksum = 0;
    icmp->icmp_ident = 0; // RFC 1191: the first 16 bits unused, then the next-hop MTU
    icmp->icmp_seq_nb = rte_cpu_to_be_16(next_hop_mtu);
    icmp->icmp_cksum =
        static_cast<std::uint16_t>(~rte_raw_cksum(icmp, sizeof(rte_icmp_hdr) + quoted));

    auto* out = reinterpret_cast<rte_ipv4_hdr*>(l3);
    out->version_ihl = RTE_IPV4_VHL_DEF;
    out->type_of_service = 0;
    out->total_length = rte_cpu_to_be_16(static_cast<std::uint16_t>(error_length));
    out->packet_id = 0;
    out->fragment_offset = 0;
    out->time_to_live = 64;
    out->next_proto_id = IPPROTO_ICMP;
    out->hdr_checksum = 0;
    out->src_addr = vip; // what the client talked to, so its stack matches the error to it
    out->dst_addr = client;
    out->hdr_checksum = rte_ipv4_cksum(out);

    eth->dst_addr = eth->src_addr;
    eth->src_addr = our_mac;
    // Everything past the quote goes: the rest of the first segment and any chained ones.
    if (m->next) {
        rte_pktmbuf_free(m->next);
        m->next = nullptr;
        m->nb_segs = 1;
    }
    m->data_len = static_cast<std::uint16_t>(frame_length);
    m->pkt_len = frame_length;
    return true;
}

} // namespace lb::dataplane
