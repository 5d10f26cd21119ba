// Addresses and NAT configurations the worker's packet tests share (worker_test.cpp).
#pragma once

#include "test/packet/worker_harness.hpp"
#include <catch2/catch.hpp>

using namespace lb::test;
using lb::dataplane::DropReason;

namespace worker_fixture {

constexpr std::uint32_t vip = ipv4(198, 51, 100, 100);
constexpr std::uint32_t node_ext = ipv4(198, 51, 100, 2);
constexpr std::uint32_t client = ipv4(198, 51, 100, 10);
constexpr std::uint32_t rs1 = ipv4(203, 0, 113, 11);
constexpr std::uint32_t rs2 = ipv4(203, 0, 113, 12);
constexpr std::uint32_t dr_rs1 = ipv4(198, 51, 100, 21);

inline std::string nat_config(const std::string& extra = "") {
    return std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    scheduler: rr
    real_servers:
      - {address: 203.0.113.11, port: 8080}
      - {address: 203.0.113.12, port: 8080}
  - name: dns
    vip: 198.51.100.100
    protocol: udp
    port: 53
    scheduler: rr
    real_servers:
      - {address: 203.0.113.11}
)" + extra;
}

inline const char* dr_config = R"(node: {name: test}
interfaces:
  - {name: ext, device: d0, address: 198.51.100.2/24}
services:
  - name: web
    vip: 198.51.100.100
    port: 80
    forwarding: dr
    scheduler: rr
    real_servers:
      - {address: 198.51.100.21}
)";

inline L4 syn_to_vip(std::uint16_t sport = 40000, std::uint16_t dport = 80) {
    L4 p;
    p.src = client;
    p.dst = vip;
    p.sport = sport;
    p.dport = dport;
    return p;
}

// The carried TCP/UDP checksum equals a full recomputation.
inline bool l4_checksum_ok(Bytes& f) {
    rte_ipv4_hdr* iph = ip_of(f);
    std::uint8_t* l4 = l4_of(f);
    auto* field = reinterpret_cast<std::uint16_t*>(l4 + (iph->next_proto_id == IPPROTO_TCP
                                                             ? offsetof(rte_tcp_hdr, cksum)
                                                             : offsetof(rte_udp_hdr, dgram_cksum)));
    const std::uint16_t carried = *field;
    *field = 0;
    const std::uint16_t full = rte_ipv4_udptcp_cksum(iph, l4);
    *field = carried;
    return carried == full;
}

struct NatHarness : WorkerHarness {
    NatHarness() : WorkerHarness(nat_config()) {
        resolve(rs1, rs1_mac, 1);
        resolve(rs2, rs2_mac, 1);
    }
};

} // namespace worker_fixture
