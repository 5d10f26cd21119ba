#include <catch2/catch.hpp>

#include <random>
#include <vector>

#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "dataplane/checksum.hpp"
#include "dataplane/nat_rewrite.hpp"

using namespace lb::dataplane;

namespace {

// An IPv4 packet with a TCP or UDP header and random payload, correct checksums.
std::vector<std::uint8_t> random_packet(std::mt19937& rng, std::uint8_t protocol) {
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<int> payload_length(0, 1400);
    const std::size_t l4_header =
        protocol == IPPROTO_TCP ? sizeof(rte_tcp_hdr) : sizeof(rte_udp_hdr);
    const std::size_t total = sizeof(rte_ipv4_hdr) + l4_header + payload_length(rng);
    std::vector<std::uint8_t> p(total);
    for (auto& b : p)
        b = static_cast<std::uint8_t>(byte(rng));
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p.data());
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(static_cast<std::uint16_t>(total));
    ip->next_proto_id = protocol;
    ip->fragment_offset = 0;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    void* l4 = ip + 1;
    if (protocol == IPPROTO_TCP) {
        auto* tcp = static_cast<rte_tcp_hdr*>(l4);
        tcp->data_off = 0x50;
        tcp->cksum = 0;
        tcp->cksum = rte_ipv4_udptcp_cksum(ip, l4);
    } else {
        auto* udp = static_cast<rte_udp_hdr*>(l4);
        udp->dgram_len = rte_cpu_to_be_16(static_cast<std::uint16_t>(total - sizeof(rte_ipv4_hdr)));
        udp->dgram_cksum = 0;
        udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, l4);
    }
    return p;
}

std::uint16_t full_l4_checksum(rte_ipv4_hdr* ip) {
    void* l4 = ip + 1;
    if (ip->next_proto_id == IPPROTO_TCP) {
        auto* tcp = static_cast<rte_tcp_hdr*>(l4);
        const std::uint16_t saved = tcp->cksum;
        tcp->cksum = 0;
        const std::uint16_t c = rte_ipv4_udptcp_cksum(ip, l4);
        tcp->cksum = saved;
        return c;
    }
    auto* udp = static_cast<rte_udp_hdr*>(l4);
    const std::uint16_t saved = udp->dgram_cksum;
    udp->dgram_cksum = 0;
    const std::uint16_t c = rte_ipv4_udptcp_cksum(ip, l4);
    udp->dgram_cksum = saved;
    return c;
}

std::uint16_t full_ip_checksum(rte_ipv4_hdr* ip) {
    const std::uint16_t saved = ip->hdr_checksum;
    ip->hdr_checksum = 0;
    const std::uint16_t c = rte_ipv4_cksum(ip);
    ip->hdr_checksum = saved;
    return c;
}

} // namespace

TEST_CASE("incremental checksums equal full recomputation on random packets") {
    std::mt19937 rng(20261121);
    std::uniform_int_distribution<std::uint32_t> any32;
    int checked = 0;
    for (int i = 0; i < 5000; ++i) {
        const std::uint8_t protocol = i % 2 ? IPPROTO_TCP : IPPROTO_UDP;
        auto p = random_packet(rng, protocol);
        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p.data());
        auto* l4 = reinterpret_cast<std::uint8_t*>(ip + 1);
        const std::uint32_t address = any32(rng);
        const auto port = static_cast<std::uint16_t>(any32(rng));
        if (i % 4 < 2)
            rewrite_destination(ip, l4, address, port);
        else
            rewrite_source(ip, l4, address, port);
        REQUIRE(ip->hdr_checksum == full_ip_checksum(ip));
        const std::uint16_t carried = protocol == IPPROTO_TCP
                                          ? reinterpret_cast<rte_tcp_hdr*>(l4)->cksum
                                          : reinterpret_cast<rte_udp_hdr*>(l4)->dgram_cksum;
        REQUIRE(carried == full_l4_checksum(ip));
        ++checked;
    }
    CHECK(checked == 5000);
}

TEST_CASE("a UDP datagram without checksum keeps none after NAT") {
    std::mt19937 rng(7);
    auto p = random_packet(rng, IPPROTO_UDP);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p.data());
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    udp->dgram_cksum = 0;
    rewrite_destination(ip, reinterpret_cast<std::uint8_t*>(udp), 0x01020304, 0x1f90);
    CHECK(udp->dgram_cksum == 0);
}

TEST_CASE("checksum_replace16 follows RFC 1624's example") {
    // RFC 1624 section 4: HC = 0xDD2F, m = 0x5555 → m' = 0x3285 gives HC' = 0x0000.
    CHECK(checksum_replace16(0xdd2f, 0x5555, 0x3285) == 0x0000);
}
