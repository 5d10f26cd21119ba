#include "dataplane/local_replies.hpp"

#include <cstring>

#include <rte_byteorder.h>
#include <rte_icmp.h>
#include <rte_tcp.h>

#include "dataplane/checksum.hpp"

namespace lb::dataplane {

void make_arp_reply(rte_ether_hdr* eth, rte_arp_hdr* arp, const rte_ether_addr& our_mac) {
    const std::uint32_t target = arp->arp_data.arp_tip;
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    arp->arp_data.arp_tha = arp->arp_data.arp_sha;
    arp->arp_data.arp_tip = arp->arp_data.arp_sip;
    arp->arp_data.arp_sha = our_mac;
    arp->arp_data.arp_sip = target;
    eth->dst_addr = eth->src_addr;
    eth->src_addr = our_mac;
}

bool is_icmp_echo_request(const std::uint8_t* icmp) {
    const auto* h = reinterpret_cast<const rte_icmp_hdr*>(icmp);
    return h->icmp_type == RTE_IP_ICMP_ECHO_REQUEST && h->icmp_code == 0;
}

void make_icmp_echo_reply(rte_ether_hdr* eth, rte_ipv4_hdr* ip, std::uint8_t* icmp,
                          const rte_ether_addr& our_mac) {
    auto* h = reinterpret_cast<rte_icmp_hdr*>(icmp);
    // Type and code form the first 16-bit word: 8/0 becomes 0/0.
    std::uint16_t old_word;
    std::memcpy(&old_word, h, 2);
    h->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    std::uint16_t new_word;
    std::memcpy(&new_word, h, 2);
    h->icmp_cksum = checksum_replace16(h->icmp_cksum, old_word, new_word);
    const std::uint32_t src = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = src;
    ip->time_to_live = 64;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    eth->dst_addr = eth->src_addr;
    eth->src_addr = our_mac;
}

void make_tcp_reset(rte_mbuf* m, rte_ether_hdr* eth, rte_ipv4_hdr* ip, std::uint8_t* l4,
                    const rte_ether_addr& our_mac) {
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4);
    const std::uint32_t ack = tcp->recv_ack;
    const std::uint16_t src_port = tcp->src_port;
    std::uint32_t address = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = address;
    tcp->src_port = tcp->dst_port;
    tcp->dst_port = src_port;
    tcp->sent_seq = ack;
    tcp->recv_ack = 0;
    tcp->data_off = 0x50;
    tcp->tcp_flags = RTE_TCP_RST_FLAG;
    tcp->rx_win = 0;
    tcp->tcp_urp = 0;
    // IPv4 without options, TCP without options or payload.
    std::memmove(reinterpret_cast<std::uint8_t*>(ip) + sizeof(rte_ipv4_hdr), tcp,
                 sizeof(rte_tcp_hdr));
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr));
    ip->fragment_offset = 0;
    ip->time_to_live = 64;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    auto* moved = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
    moved->cksum = 0;
    moved->cksum = rte_ipv4_udptcp_cksum(ip, moved);
    const std::uint32_t frame = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr);
    if (rte_pktmbuf_pkt_len(m) > frame)
        rte_pktmbuf_trim(m, static_cast<std::uint16_t>(rte_pktmbuf_pkt_len(m) - frame));
    eth->dst_addr = eth->src_addr;
    eth->src_addr = our_mac;
}

} // namespace lb::dataplane
