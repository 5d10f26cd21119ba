// VIP ownership in the worker: addresses of a VRRP instance are answered and forwarded only
// while this node is the instance's master; VRRP advertisements go to the control thread.
#include <catch2/catch.hpp>
#include <rte_ring.h>

#include "test/packet/worker_harness.hpp"

using namespace lb::test;
using lb::dataplane::DropReason;

namespace {

constexpr std::uint32_t vip = ipv4(198, 51, 100, 100);
constexpr std::uint32_t gateway_vip = ipv4(198, 51, 100, 254); // a VRRP address of no service
constexpr std::uint32_t other_vip = ipv4(198, 51, 100, 200);   // a service VIP outside VRRP
constexpr std::uint32_t client = ipv4(198, 51, 100, 10);
constexpr Mac vmac{{0x00, 0x00, 0x5e, 0x00, 0x01, 51}};

const char* config = R"(node: {name: test}
interfaces:
  - {name: ext, device: d0, address: 198.51.100.2/24}
services:
  - name: web
    vip: 198.51.100.100
    port: 80
    forwarding: dr
    real_servers:
      - {address: 198.51.100.21}
  - name: plain
    vip: 198.51.100.200
    port: 80
    forwarding: dr
    real_servers:
      - {address: 198.51.100.21}
vrrp:
  instances:
    - name: vip
      interface: ext
      virtual_router_id: 51
      virtual_addresses: [198.51.100.100, 198.51.100.254]
)";

Bytes arp_request(std::uint32_t target) {
    return arp_frame(RTE_ARP_OP_REQUEST, client_mac, client, target);
}

Bytes ping(std::uint32_t target) {
    L4 p;
    p.protocol = IPPROTO_ICMP;
    p.src = client;
    p.dst = target;
    p.payload = 56;
    return ipv4_frame(p);
}

Bytes syn(std::uint32_t target, std::uint16_t sport = 40000) {
    L4 p;
    p.src = client;
    p.dst = target;
    p.sport = sport;
    p.dport = 80;
    return ipv4_frame(p);
}

} // namespace

TEST_CASE("A backup neither answers nor forwards for its VRRP addresses; a master does, from the "
          "virtual MAC") {
    WorkerHarness h(config);
    h.resolve(ipv4(198, 51, 100, 21), rs1_mac, 0);
    // Not master (the state every instance starts in): silence, counted.
    CHECK(h.send(arp_request(vip)).empty());
    CHECK(h.send(arp_request(gateway_vip)).empty());
    CHECK(h.send(ping(vip)).empty());
    CHECK(h.send(syn(vip)).empty());
    CHECK(h.drops(DropReason::not_master) == 4);
    // A VIP outside VRRP is always ours.
    CHECK(h.send(arp_request(other_vip)).size() == 1);
    CHECK(h.send(syn(other_vip)).size() == 1);

    h.context().vrrp_master[0].store(true);
    for (const std::uint32_t target : {vip, gateway_vip}) {
        auto out = h.send(arp_request(target));
        REQUIRE(out.size() == 1);
        CHECK(vmac == arp_of(out[0].frame)->arp_data.arp_sha);
        CHECK(vmac == eth_of(out[0].frame)->src_addr);
    }
    auto echo = h.send(ping(gateway_vip));
    REQUIRE(echo.size() == 1);
    CHECK(vmac == eth_of(echo[0].frame)->src_addr);
    auto forwarded = h.send(syn(vip));
    REQUIRE(forwarded.size() == 1);
    CHECK(rs1_mac == eth_of(forwarded[0].frame)->dst_addr);

    // Back to backup: even the established connection's packets are dropped here.
    h.context().vrrp_master[0].store(false);
    CHECK(h.send(syn(vip)).empty());
    CHECK(h.drops(DropReason::not_master) == 5);
}

TEST_CASE("VRRP advertisements go to the control thread's ring with their interface") {
    WorkerHarness h(config);
    L4 p;
    p.protocol = 112;
    p.src = ipv4(198, 51, 100, 3);
    p.dst = ipv4(224, 0, 0, 18);
    p.payload = 12;
    // Without a ring (no VRRP running) they are dropped.
    CHECK(h.send(ipv4_frame(p)).empty());
    CHECK(h.drops(DropReason::vrrp_not_configured) == 1);
    CHECK(h.drops(DropReason::no_service) == 0);

    rte_ring* ring = rte_ring_create("vrrp_test_rx", 4, SOCKET_ID_ANY, RING_F_SC_DEQ);
    REQUIRE(ring);
    h.context().control_rx = ring;
    // The ring holds 3: the fourth finds it full.
    for (int i = 0; i < 4; ++i)
        CHECK(h.send(ipv4_frame(p)).empty());
    CHECK(h.counters().vrrp_to_control.read() == 3);
    CHECK(h.drops(DropReason::control_ring_full) == 1);
    void* m;
    int received = 0;
    while (rte_ring_dequeue(ring, &m) == 0) {
        auto* mbuf = static_cast<rte_mbuf*>(m);
        CHECK(mbuf->port == 0);
        CHECK(rte_pktmbuf_data_len(mbuf) >= 14 + 20 + 12);
        rte_pktmbuf_free(mbuf);
        ++received;
    }
    CHECK(received == 3);
    h.context().control_rx = nullptr;
    rte_ring_free(ring);
}
