// Builds Ethernet frames for packet-level tests: ARP, ICMP echo, TCP and UDP over IPv4 with
// correct checksums, optional IP options, and helpers to read frames back.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

namespace lb::test {

using Bytes = std::vector<std::uint8_t>;

struct Mac {
    std::uint8_t b[6];
    rte_ether_addr addr() const {
        rte_ether_addr a;
        std::memcpy(a.addr_bytes, b, 6);
        return a;
    }
    bool operator==(const rte_ether_addr& a) const { return std::memcmp(a.addr_bytes, b, 6) == 0; }
};

inline constexpr Mac client_mac{{0x02, 0xc1, 0, 0, 0, 0x01}};
inline constexpr Mac rs1_mac{{0x02, 0x51, 0, 0, 0, 0x11}};
inline constexpr Mac rs2_mac{{0x02, 0x51, 0, 0, 0, 0x12}};
inline constexpr Mac port0_mac{{0x02, 0, 0, 0, 0, 0x01}};
inline constexpr Mac port1_mac{{0x02, 0, 0, 0, 0, 0x02}};

constexpr std::uint32_t ipv4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return (std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d;
}

struct L4 {
    std::uint8_t protocol = IPPROTO_TCP;
    std::uint32_t src = 0, dst = 0; // host order
    std::uint16_t sport = 0, dport = 0;
    std::uint8_t tcp_flags = RTE_TCP_SYN_FLAG;
    std::size_t payload = 0;
    std::string data; // payload bytes; overrides `payload` when not empty
    std::uint32_t seq = 1000;
    std::uint32_t ack = 0;
    std::size_t ip_option_words = 0; // IHL = 5 + this
    Mac src_mac = client_mac;
    Mac dst_mac = port0_mac;
};

inline Bytes ipv4_frame(L4 p) {
    if (!p.data.empty())
        p.payload = p.data.size();
    const std::size_t ip_header = 20 + 4 * p.ip_option_words;
    std::size_t l4_header = 8;
    if (p.protocol == IPPROTO_TCP)
        l4_header = 20;
    const std::size_t total = sizeof(rte_ether_hdr) + ip_header + l4_header + p.payload;
    Bytes f(std::max<std::size_t>(total, 60), 0);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(f.data());
    eth->dst_addr = p.dst_mac.addr();
    eth->src_addr = p.src_mac.addr();
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto* iph = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    iph->version_ihl = static_cast<std::uint8_t>(0x40 | (5 + p.ip_option_words));
    iph->total_length =
        rte_cpu_to_be_16(static_cast<std::uint16_t>(ip_header + l4_header + p.payload));
    iph->packet_id = rte_cpu_to_be_16(0x1234);
    iph->time_to_live = 64;
    iph->next_proto_id = p.protocol;
    iph->src_addr = rte_cpu_to_be_32(p.src);
    iph->dst_addr = rte_cpu_to_be_32(p.dst);
    auto* options = reinterpret_cast<std::uint8_t*>(iph + 1);
    for (std::size_t i = 0; i < 4 * p.ip_option_words; ++i)
        options[i] = 1; // NOP options
    std::uint8_t* l4 = reinterpret_cast<std::uint8_t*>(iph) + ip_header;
    for (std::size_t i = 0; i < p.payload; ++i)
        l4[l4_header + i] = p.data.empty() ? static_cast<std::uint8_t>('a' + i % 26)
                                           : static_cast<std::uint8_t>(p.data[i]);
    iph->hdr_checksum = rte_ipv4_cksum(iph);
    if (p.protocol == IPPROTO_TCP) {
        auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4);
        tcp->src_port = rte_cpu_to_be_16(p.sport);
        tcp->dst_port = rte_cpu_to_be_16(p.dport);
        tcp->sent_seq = rte_cpu_to_be_32(p.seq);
        tcp->recv_ack = rte_cpu_to_be_32(p.ack);
        tcp->data_off = 0x50;
        tcp->tcp_flags = p.tcp_flags;
        tcp->rx_win = rte_cpu_to_be_16(65535);
        tcp->cksum = rte_ipv4_udptcp_cksum(iph, tcp);
    } else if (p.protocol == IPPROTO_UDP) {
        auto* udp = reinterpret_cast<rte_udp_hdr*>(l4);
        udp->src_port = rte_cpu_to_be_16(p.sport);
        udp->dst_port = rte_cpu_to_be_16(p.dport);
        udp->dgram_len = rte_cpu_to_be_16(static_cast<std::uint16_t>(8 + p.payload));
        udp->dgram_cksum = rte_ipv4_udptcp_cksum(iph, udp);
    } else if (p.protocol == IPPROTO_ICMP) {
        auto* icmp = reinterpret_cast<rte_icmp_hdr*>(l4);
        icmp->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
        icmp->icmp_ident = rte_cpu_to_be_16(77);
        icmp->icmp_seq_nb = rte_cpu_to_be_16(1);
        icmp->icmp_cksum = static_cast<std::uint16_t>(~rte_raw_cksum(icmp, 8 + p.payload));
    }
    return f;
}

inline Bytes arp_frame(std::uint16_t op, Mac sender, std::uint32_t sender_ip,
                       std::uint32_t target_ip,
                       Mac dst = Mac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}) {
    Bytes f(60, 0);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(f.data());
    eth->dst_addr = dst.addr();
    eth->src_addr = sender.addr();
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = 6;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(op);
    arp->arp_data.arp_sha = sender.addr();
    arp->arp_data.arp_sip = rte_cpu_to_be_32(sender_ip);
    arp->arp_data.arp_tip = rte_cpu_to_be_32(target_ip);
    return f;
}

// Read-back views of a frame.
inline const rte_ether_hdr* eth_of(const Bytes& f) {
    return reinterpret_cast<const rte_ether_hdr*>(f.data());
}
inline rte_ipv4_hdr* ip_of(Bytes& f) {
    return reinterpret_cast<rte_ipv4_hdr*>(f.data() + 14);
}
inline std::uint8_t* l4_of(Bytes& f) {
    auto* iph = ip_of(f);
    return reinterpret_cast<std::uint8_t*>(iph) + (iph->version_ihl & 0xf) * 4;
}
inline rte_tcp_hdr* tcp_of(Bytes& f) {
    return reinterpret_cast<rte_tcp_hdr*>(l4_of(f));
}
inline std::string tcp_payload(Bytes& f) {
    auto* iph = ip_of(f);
    const std::size_t ip_header = (iph->version_ihl & 0xf) * 4;
    const std::size_t tcp_header = (tcp_of(f)->data_off >> 4) * 4;
    const std::size_t length = rte_be_to_cpu_16(iph->total_length) - ip_header - tcp_header;
    const char* p = reinterpret_cast<const char*>(l4_of(f)) + tcp_header;
    return std::string(p, length);
}

inline std::string tcp_payload(Bytes&& f) {
    return tcp_payload(f);
}

inline const rte_arp_hdr* arp_of(const Bytes& f) {
    return reinterpret_cast<const rte_arp_hdr*>(f.data() + 14);
}

} // namespace lb::test
