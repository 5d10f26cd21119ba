// Builds Ethernet frames for packet-level tests: ARP, ICMP echo, TCP and UDP over IPv4 with
// correct checksums, optional IP options; TCP, UDP, ICMPv6 echo and Neighbour Discovery over
// IPv6 behind any chain of extension headers; and helpers to read frames back.
#pragma once

#include <cstddef>
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

// A zeroed frame of `size` bytes (Ethernet's minimum of 60 at least), its Ethernet header
// written.
inline Bytes ethernet_frame(std::size_t size, Mac src, Mac dst, std::uint16_t ether_type) {
    Bytes f(std::max<std::size_t>(size, 60), 0);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(f.data());
    eth->dst_addr = dst.addr();
    eth->src_addr = src.addr();
    eth->ether_type = rte_cpu_to_be_16(ether_type);
    return f;
}

// The TCP or UDP header at `l4` (checksum 0, `l4_length` the whole segment or datagram), for
// ipv4_frame and ipv6_frame alike; other protocols are left to the caller.
template <typename P>
void write_transport_header(std::uint8_t* l4, const P& p, std::size_t l4_length) {
    if (p.protocol == IPPROTO_TCP) {
        auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4);
        tcp->src_port = rte_cpu_to_be_16(p.sport);
        tcp->dst_port = rte_cpu_to_be_16(p.dport);
        tcp->sent_seq = rte_cpu_to_be_32(p.seq);
        tcp->recv_ack = rte_cpu_to_be_32(p.ack);
        tcp->data_off = 0x50;
        tcp->tcp_flags = p.tcp_flags;
        tcp->rx_win = rte_cpu_to_be_16(65535);
    } else if (p.protocol == IPPROTO_UDP) {
        auto* udp = reinterpret_cast<rte_udp_hdr*>(l4);
        udp->src_port = rte_cpu_to_be_16(p.sport);
        udp->dst_port = rte_cpu_to_be_16(p.dport);
        udp->dgram_len = rte_cpu_to_be_16(static_cast<std::uint16_t>(l4_length));
    }
}

inline Bytes ipv4_frame(L4 p) {
    if (!p.data.empty())
        p.payload = p.data.size();
    const std::size_t ip_header = 20 + 4 * p.ip_option_words;
    std::size_t l4_header = 8;
    if (p.protocol == IPPROTO_TCP)
        l4_header = 20;
    const std::size_t total = sizeof(rte_ether_hdr) + ip_header + l4_header + p.payload;
    Bytes f = ethernet_frame(total, p.src_mac, p.dst_mac, RTE_ETHER_TYPE_IPV4);
    auto* iph = reinterpret_cast<rte_ipv4_hdr*>(f.data() + sizeof(rte_ether_hdr));
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
    write_transport_header(l4, p, l4_header + p.payload);
    if (p.protocol == IPPROTO_TCP) {
        reinterpret_cast<rte_tcp_hdr*>(l4)->cksum = rte_ipv4_udptcp_cksum(iph, l4);
    } else if (p.protocol == IPPROTO_UDP) {
        reinterpret_cast<rte_udp_hdr*>(l4)->dgram_cksum = rte_ipv4_udptcp_cksum(iph, l4);
    } else if (p.protocol == IPPROTO_ICMP) {
        auto* icmp = reinterpret_cast<rte_icmp_hdr*>(l4);
        icmp->icmp_type = RTE_IP_ICMP_ECHO_REQUEST;
        icmp->icmp_ident = rte_cpu_to_be_16(77);
        icmp->icmp_seq_nb = rte_cpu_to_be_16(1);
        icmp->icmp_cksum = static_cast<std::uint16_t>(~rte_raw_cksum(icmp, 8 + p.payload));
    }
    return f;
}

// IPv6: an address as eight 16-bit groups, `ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)` for
// 2001:db8::1.
struct Ipv6Address {
    std::uint8_t b[16];
    bool operator==(const std::uint8_t* other) const { return std::memcmp(b, other, 16) == 0; }
};

constexpr Ipv6Address ipv6(std::uint16_t g0, std::uint16_t g1, std::uint16_t g2, std::uint16_t g3,
                           std::uint16_t g4, std::uint16_t g5, std::uint16_t g6, std::uint16_t g7) {
    Ipv6Address a{};
    const std::uint16_t groups[8] = {g0, g1, g2, g3, g4, g5, g6, g7};
    for (int i = 0; i < 8; ++i) {
        a.b[2 * i] = static_cast<std::uint8_t>(groups[i] >> 8);
        a.b[2 * i + 1] = static_cast<std::uint8_t>(groups[i]);
    }
    return a;
}

// One extension header, whole: its first byte (next header) is filled in by ipv6_frame.
struct Ipv6Extension {
    std::uint8_t type;
    Bytes bytes;
};

// Hop-by-hop or destination options of `length` bytes (a multiple of 8), padded with PadN:
// scapy's IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() for 8.
inline Ipv6Extension ipv6_options(std::uint8_t type, std::size_t length = 8) {
    Ipv6Extension e{type, Bytes(length, 0)};
    e.bytes[1] = static_cast<std::uint8_t>(length / 8 - 1);
    e.bytes[2] = 1; // PadN over the rest
    e.bytes[3] = static_cast<std::uint8_t>(length - 4);
    return e;
}

// A type 0 routing header holding one address (24 bytes): scapy's
// IPv6ExtHdrRouting(addresses=["2001:db8::1"], segleft=N).
inline Ipv6Extension ipv6_routing(std::uint8_t segments_left) {
    Ipv6Extension e{IPPROTO_ROUTING, Bytes(24, 0)};
    e.bytes[1] = 2;
    e.bytes[3] = segments_left;
    const Ipv6Address hop = ipv6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    std::memcpy(&e.bytes[8], hop.b, 16);
    return e;
}

// scapy's IPv6ExtHdrFragment(offset=O, m=M, id=0x1234); offset in 8-byte units.
inline Ipv6Extension ipv6_fragment(std::uint16_t offset, bool more) {
    Ipv6Extension e{IPPROTO_FRAGMENT, Bytes(8, 0)};
    const std::uint16_t data = static_cast<std::uint16_t>(offset << 3 | (more ? 1 : 0));
    e.bytes[2] = static_cast<std::uint8_t>(data >> 8);
    e.bytes[3] = static_cast<std::uint8_t>(data);
    e.bytes[6] = 0x12;
    e.bytes[7] = 0x34;
    return e;
}

inline constexpr Ipv6Address client6 = ipv6(0x2001, 0xdb8, 0xc, 0, 0, 0, 0, 0x10);
inline constexpr Ipv6Address vip6 = ipv6(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0x100);

struct L6 {
    // TCP, UDP and ICMPv6 (an echo request) get their header; anything else only the payload.
    std::uint8_t protocol = IPPROTO_TCP;
    Ipv6Address src = client6, dst = vip6;
    std::uint16_t sport = 40000, dport = 80;
    std::uint8_t tcp_flags = RTE_TCP_SYN_FLAG;
    std::size_t payload = 0;
    std::uint32_t seq = 1000;
    std::uint32_t ack = 0;
    std::vector<Ipv6Extension> extensions; // in order, between the fixed header and `protocol`
    Mac src_mac = client_mac;
    Mac dst_mac = port0_mac;
};

// The upper-layer checksum of RFC 8200 8.1: the pseudo-header holds the upper layer's length
// and protocol, not the payload length and first next header (rte_ipv6_udptcp_cksum's, wrong
// behind extension headers).
inline std::uint16_t ipv6_l4_checksum(const rte_ipv6_hdr* ip, const void* l4, std::size_t length,
                                      std::uint8_t protocol) {
    std::uint32_t sum = rte_raw_cksum(ip->src_addr, 32);
    const std::uint32_t be_length = rte_cpu_to_be_32(static_cast<std::uint32_t>(length));
    const std::uint32_t be_protocol = rte_cpu_to_be_32(protocol);
    sum +=
        rte_raw_cksum(&be_length, 4) + rte_raw_cksum(&be_protocol, 4) + rte_raw_cksum(l4, length);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    const auto folded = static_cast<std::uint16_t>(~sum);
    return folded == 0 && protocol == IPPROTO_UDP ? 0xffff : folded; // UDP's 0 means none
}

// A read-back view like those at the end, up here because nd_frame edits through it.
inline rte_ipv6_hdr* ip6_of(Bytes& f) {
    return reinterpret_cast<rte_ipv6_hdr*>(f.data() + 14);
}

inline Bytes ipv6_frame(const L6& p) {
    std::size_t extensions = 0;
    for (const auto& e : p.extensions)
        extensions += e.bytes.size();
    std::size_t l4_header = 0;
    if (p.protocol == IPPROTO_TCP)
        l4_header = 20;
    else if (p.protocol == IPPROTO_UDP || p.protocol == IPPROTO_ICMPV6)
        l4_header = 8;
    const std::size_t l4_length = l4_header + p.payload;
    const std::size_t total = sizeof(rte_ether_hdr) + 40 + extensions + l4_length;
    Bytes f = ethernet_frame(total, p.src_mac, p.dst_mac, RTE_ETHER_TYPE_IPV6);
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(f.data() + sizeof(rte_ether_hdr));
    ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
    ip->payload_len = rte_cpu_to_be_16(static_cast<std::uint16_t>(extensions + l4_length));
    ip->hop_limits = 64;
    std::memcpy(ip->src_addr, p.src.b, 16);
    std::memcpy(ip->dst_addr, p.dst.b, 16);
    std::uint8_t* next = &ip->proto;
    std::uint8_t* at = reinterpret_cast<std::uint8_t*>(ip + 1);
    for (const auto& e : p.extensions) {
        *next = e.type;
        std::memcpy(at, e.bytes.data(), e.bytes.size());
        next = at;
        at += e.bytes.size();
    }
    *next = p.protocol;
    for (std::size_t i = 0; i < p.payload; ++i)
        at[l4_header + i] = static_cast<std::uint8_t>('a' + i % 26);
    write_transport_header(at, p, l4_length);
    std::size_t checksum_at = 0; // offset of the checksum field in the upper layer, if any
    if (p.protocol == IPPROTO_TCP) {
        checksum_at = offsetof(rte_tcp_hdr, cksum);
    } else if (p.protocol == IPPROTO_UDP) {
        checksum_at = offsetof(rte_udp_hdr, dgram_cksum);
    } else if (p.protocol == IPPROTO_ICMPV6) {
        auto* icmp = reinterpret_cast<rte_icmp_hdr*>(at); // echo: the ICMP layout
        icmp->icmp_type = 128;                            // echo request
        icmp->icmp_ident = rte_cpu_to_be_16(77);
        icmp->icmp_seq_nb = rte_cpu_to_be_16(1);
        checksum_at = offsetof(rte_icmp_hdr, icmp_cksum);
    }
    if (checksum_at) {
        const std::uint16_t sum = ipv6_l4_checksum(ip, at, l4_length, p.protocol);
        std::memcpy(at + checksum_at, &sum, 2);
    }
    return f;
}

// Neighbour Discovery (RFC 4861 4.3, 4.4): the IPv6 multicast MAC of a group (RFC 2464 7,
// 33:33 and its last 32 bits) and the solicited-node group of an address (RFC 4291 2.7.1).
inline Mac ipv6_multicast_mac(const Ipv6Address& group) {
    return Mac{{0x33, 0x33, group.b[12], group.b[13], group.b[14], group.b[15]}};
}

constexpr Ipv6Address solicited_node(const Ipv6Address& a) {
    Ipv6Address group = ipv6(0xff02, 0, 0, 0, 0, 1, 0xff00, 0);
    group.b[13] = a.b[13];
    group.b[14] = a.b[14];
    group.b[15] = a.b[15];
    return group;
}

// A link-layer address option: scapy's ICMPv6NDOptSrcLLAddr(lladdr=mac) for type 1,
// ICMPv6NDOptDstLLAddr(lladdr=mac) for type 2.
inline Bytes nd_link_layer_option(std::uint8_t type, Mac mac) {
    Bytes o{type, 1};
    o.insert(o.end(), mac.b, mac.b + 6);
    return o;
}

// scapy's Ether(src=src_mac, dst=dst_mac)/IPv6(src=src, dst=dst, hlim=hop_limit)/<extensions>/
// ICMPv6ND_NS(tgt=target) (type 135) or ICMPv6ND_NA(tgt=target, R=.., S=.., O=..) (type 136),
// then the options as given, the ICMPv6 checksum right. By default the NS a client sends to
// resolve vip6.
struct Nd {
    std::uint8_t type = 135;
    std::uint8_t code = 0;
    std::uint8_t flags = 0; // NA: R 0x80, S 0x40, O 0x20
    Ipv6Address src = client6;
    Ipv6Address dst = solicited_node(vip6);
    Ipv6Address target = vip6;
    std::uint8_t hop_limit = 255;
    std::vector<Bytes> options; // each whole: type, length in 8-byte units, data
    std::vector<Ipv6Extension> extensions;
    Mac src_mac = client_mac;
    Mac dst_mac = ipv6_multicast_mac(solicited_node(vip6));
};

inline Bytes nd_frame(const Nd& p) {
    // ipv6_frame's echo request, its 8-byte header and payload then overwritten with the ND
    // message: it already lays out the extension headers and lengths.
    L6 l6;
    l6.protocol = IPPROTO_ICMPV6;
    l6.src = p.src;
    l6.dst = p.dst;
    l6.extensions = p.extensions;
    l6.src_mac = p.src_mac;
    l6.dst_mac = p.dst_mac;
    Bytes message(24, 0);
    message[0] = p.type;
    message[1] = p.code;
    message[4] = p.flags;
    std::memcpy(&message[8], p.target.b, 16);
    for (const auto& o : p.options)
        message.insert(message.end(), o.begin(), o.end());
    l6.payload = message.size() - 8;
    Bytes f = ipv6_frame(l6);
    auto* ip = ip6_of(f);
    ip->hop_limits = p.hop_limit;
    std::size_t extensions = 0;
    for (const auto& e : p.extensions)
        extensions += e.bytes.size();
    std::uint8_t* icmp = f.data() + 14 + 40 + extensions;
    std::memcpy(icmp, message.data(), message.size());
    const std::uint16_t sum = ipv6_l4_checksum(ip, icmp, message.size(), IPPROTO_ICMPV6);
    std::memcpy(icmp + 2, &sum, 2);
    return f;
}

inline Bytes arp_frame(std::uint16_t op, Mac sender, std::uint32_t sender_ip,
                       std::uint32_t target_ip,
                       Mac dst = Mac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}) {
    Bytes f = ethernet_frame(60, sender, dst, RTE_ETHER_TYPE_ARP);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(f.data() + sizeof(rte_ether_hdr));
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
