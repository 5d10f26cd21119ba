// Address and port rewriting for NAT, with incremental checksum updates of the IPv4 header and
// of the TCP/UDP pseudo-header sum.
#pragma once

#include <cstdint>

#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "dataplane/checksum.hpp"

namespace lb::dataplane {

// Rewrites the destination (client → real server). Values in network order.
inline void rewrite_destination(rte_ipv4_hdr* ip, std::uint8_t* l4, std::uint32_t address,
                                std::uint16_t port) {
    const std::uint32_t old_address = ip->dst_addr;
    ip->hdr_checksum = checksum_replace32(ip->hdr_checksum, old_address, address);
    ip->dst_addr = address;
    if (ip->next_proto_id == IPPROTO_TCP) {
        auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4);
        std::uint16_t c = checksum_replace32(tcp->cksum, old_address, address);
        tcp->cksum = checksum_replace16(c, tcp->dst_port, port);
        tcp->dst_port = port;
    } else {
        auto* udp = reinterpret_cast<rte_udp_hdr*>(l4);
        std::uint16_t c = udp_checksum_replace32(udp->dgram_cksum, old_address, address);
        udp->dgram_cksum = udp_checksum_replace16(c, udp->dst_port, port);
        udp->dst_port = port;
    }
}

// Rewrites the source (real server → client) back to the VIP and service port.
inline void rewrite_source(rte_ipv4_hdr* ip, std::uint8_t* l4, std::uint32_t address,
                           std::uint16_t port) {
    const std::uint32_t old_address = ip->src_addr;
    ip->hdr_checksum = checksum_replace32(ip->hdr_checksum, old_address, address);
    ip->src_addr = address;
    if (ip->next_proto_id == IPPROTO_TCP) {
        auto* tcp = reinterpret_cast<rte_tcp_hdr*>(l4);
        std::uint16_t c = checksum_replace32(tcp->cksum, old_address, address);
        tcp->cksum = checksum_replace16(c, tcp->src_port, port);
        tcp->src_port = port;
    } else {
        auto* udp = reinterpret_cast<rte_udp_hdr*>(l4);
        std::uint16_t c = udp_checksum_replace32(udp->dgram_cksum, old_address, address);
        udp->dgram_cksum = udp_checksum_replace16(c, udp->src_port, port);
        udp->src_port = port;
    }
}

} // namespace lb::dataplane
