// Address and port rewriting for NAT, with incremental checksum updates of the IPv4 header and
// of the TCP/UDP checksum (whose pseudo-header covers the addresses).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "dataplane/checksum.hpp"

namespace lb::dataplane {

enum class Endpoint { source, destination };

// Replaces the packet's source or destination address and port (values in network order).
// The header structs are packed, so fields are reached through byte offsets and memcpy.
inline void rewrite_endpoint(rte_ipv4_hdr* ip, std::uint8_t* l4, Endpoint which,
                             std::uint32_t address, std::uint16_t port) {
    const bool tcp = ip->next_proto_id == IPPROTO_TCP;
    const bool destination = which == Endpoint::destination;
    auto* address_field =
        reinterpret_cast<std::uint8_t*>(ip) +
        (destination ? offsetof(rte_ipv4_hdr, dst_addr) : offsetof(rte_ipv4_hdr, src_addr));
    // TCP and UDP both start with source port, destination port.
    std::uint8_t* port_field = l4 + (destination ? 2 : 0);
    std::uint8_t* check_field =
        l4 + (tcp ? offsetof(rte_tcp_hdr, cksum) : offsetof(rte_udp_hdr, dgram_cksum));
    std::uint32_t old_address;
    std::uint16_t old_port;
    std::uint16_t check;
    std::memcpy(&old_address, address_field, 4);
    std::memcpy(&old_port, port_field, 2);
    std::memcpy(&check, check_field, 2);
    ip->hdr_checksum = checksum_replace32(ip->hdr_checksum, old_address, address);
    // A zero UDP checksum means "none" and stays zero; a computed zero is sent as 0xffff.
    if (tcp || check != 0) {
        check = checksum_replace16(checksum_replace32(check, old_address, address), old_port, port);
        if (!tcp && check == 0)
            check = 0xffff;
    }
    std::memcpy(address_field, &address, 4);
    std::memcpy(port_field, &port, 2);
    std::memcpy(check_field, &check, 2);
}

// Client → real server.
inline void rewrite_destination(rte_ipv4_hdr* ip, std::uint8_t* l4, std::uint32_t address,
                                std::uint16_t port) {
    rewrite_endpoint(ip, l4, Endpoint::destination, address, port);
}

// Real server → client: back to the VIP and service port.
inline void rewrite_source(rte_ipv4_hdr* ip, std::uint8_t* l4, std::uint32_t address,
                           std::uint16_t port) {
    rewrite_endpoint(ip, l4, Endpoint::source, address, port);
}

} // namespace lb::dataplane
