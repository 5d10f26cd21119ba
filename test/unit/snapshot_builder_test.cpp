// build_snapshot: what the workers are told about services, real servers, weights, health and
// VRRP ownership, and what a reload keeps.
#include <catch2/catch.hpp>

#include <netinet/in.h>

#include <algorithm>
#include <stdexcept>

#include <rte_byteorder.h>

#include "dataplane/maglev_table.hpp"
#include "test/test_config.hpp"

using namespace lb::dataplane;
using lb::control::build_snapshot;
using lb::control::IdentityRegistry;
using lb::control::health::DownSet;
using lb::test::config_from;
using lb::test::fake_ports;
using lb::test::two_interfaces;

namespace {

// An IPv4 address in network order, as the snapshot holds it.
std::uint32_t net(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return rte_cpu_to_be_32((std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) |
                            (std::uint32_t{c} << 8) | d);
}

std::uint32_t host(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
    return rte_be_to_cpu_32(net(a, b, c, d));
}

std::uint16_t port(std::uint16_t p) {
    return rte_cpu_to_be_16(p);
}

// Builds snapshots the way lb does: one registry and neighbour table for the process, each
// snapshot built on the previous one.
struct Builder {
    NeighbourTable neighbours;
    IdentityRegistry registry;
    std::unique_ptr<Snapshot> current;

    const Snapshot& build(const std::string& yaml, const DownSet* down = nullptr) {
        const auto config = config_from(yaml);
        auto next =
            build_snapshot(config, fake_ports(config.interfaces.size()), neighbours, registry,
                           current.get(), current ? current->generation + 1 : 1, down);
        current = std::move(next);
        return *current;
    }
    std::uint16_t server(const std::string& service, std::uint32_t address,
                         std::uint16_t port = 0) const {
        const auto id = registry.find_real_server(service, address, port);
        REQUIRE(id);
        return *id;
    }
};

const std::string services = std::string(two_interfaces) + R"(timeouts: {tcp_syn: 5s, udp: 30s}
services:
  - name: web
    vip: 198.51.100.100
    port: 80
    scheduler: wrr
    real_servers:
      - {address: 203.0.113.11, port: 8080, weight: 2}
      - {address: 203.0.113.12, port: 8080, weight: 4}
      - {address: 203.0.113.13, port: 8080, weight: 0}
  - name: ftp
    vip: 198.51.100.101
    ports: [21, 20, "10000-10002"]
    forwarding: dr
    scheduler: mh
    maglev_table_size: 251
    persistence: {timeout: 60s, netmask: 255.255.255.0}
    real_servers:
      - {address: 198.51.100.21}
      - {address: 198.51.100.22}
  - name: dns
    vip: 198.51.100.100
    protocol: udp
    port: 53
    real_servers:
      - {address: 203.0.113.7}
)";

const std::string gateway_interfaces = R"(node: {name: test}
interfaces:
  - {name: ext, device: d0, address: 198.51.100.2/24}
  - {name: int, device: d1, address: 203.0.113.1/24, gateway: 203.0.113.254}
)";

} // namespace

TEST_CASE("interfaces are bound to their ports with their addresses in network order") {
    Builder b;
    const Snapshot& s = b.build(services);
    REQUIRE(s.interfaces.size() == 2);
    CHECK(s.interfaces[1].port_id == 1);
    CHECK(s.interfaces[1].mac.addr_bytes[5] == 2);
    CHECK(s.interfaces[1].address == net(203, 0, 113, 1));
    CHECK(s.interfaces[1].netmask == net(255, 255, 255, 0));
    CHECK(s.interfaces[0].kernel_port == no_port);
    CHECK(s.generation == 1);
    CHECK(s.timeouts.tcp_syn == 5000);
    CHECK(s.timeouts.udp == 30000);
    CHECK(s.timeouts.tcp_established == 900'000); // the default
}

TEST_CASE("services carry their settings and every port of their group") {
    Builder b;
    const Snapshot& s = b.build(services);
    const auto web = *b.registry.find_service("web");
    const auto ftp = *b.registry.find_service("ftp");
    const auto dns = *b.registry.find_service("dns");
    const ServiceEntry& w = s.services[web];
    CHECK(w.vip == net(198, 51, 100, 100));
    CHECK(w.protocol == IPPROTO_TCP);
    CHECK(w.forwarding == ForwardingKind::nat);
    CHECK(w.scheduler == SchedulerKind::wrr);
    CHECK_FALSE(w.persistent);
    CHECK(w.ftp_control_port == 0);

    const ServiceEntry& f = s.services[ftp];
    CHECK(f.forwarding == ForwardingKind::dr);
    CHECK(f.port_group);
    CHECK(f.persistent);
    CHECK(f.persistence_timeout_ms == 60'000);
    CHECK(f.persistence_netmask == net(255, 255, 255, 0));
    CHECK(f.ftp_control_port == 0); // DR: no helper
    CHECK_FALSE(s.has_ftp);
    for (const std::uint16_t p : {21, 20, 10000, 10001, 10002})
        CHECK(s.service_index.find(f.vip, IPPROTO_TCP, port(p)) == ftp);
    CHECK(s.service_index.find(f.vip, IPPROTO_TCP, port(10003)) == -1);
    CHECK(s.service_index.find(f.vip, IPPROTO_UDP, port(21)) == -1);

    // Two services on one VIP, told apart by protocol and port.
    CHECK(s.services[dns].protocol == IPPROTO_UDP);
    CHECK(s.service_index.find(w.vip, IPPROTO_TCP, port(80)) == web);
    CHECK(s.service_index.find(w.vip, IPPROTO_UDP, port(53)) == dns);
    CHECK(s.service_index.find(w.vip, IPPROTO_UDP, port(80)) == -1);
    CHECK(s.service_index.is_vip(w.vip));
    CHECK_FALSE(s.service_index.is_vip(net(198, 51, 100, 2)));
}

TEST_CASE("a NAT service with port 21 runs the FTP helper") {
    Builder b;
    const Snapshot& s = b.build(std::string(two_interfaces) + R"(services:
  - name: ftp
    vip: 198.51.100.100
    port: 21
    real_servers: [{address: 203.0.113.11}]
)");
    CHECK(s.has_ftp);
    CHECK(s.services[0].ftp_control_port == port(21));
}

TEST_CASE("real servers are the service's members, with their port, egress and next hop") {
    Builder b;
    const Snapshot& s = b.build(services);
    const ServiceEntry& w = s.services[*b.registry.find_service("web")];
    const auto rs1 = b.server("web", host(203, 0, 113, 11), 8080);
    const auto rs2 = b.server("web", host(203, 0, 113, 12), 8080);
    const auto rs3 = b.server("web", host(203, 0, 113, 13), 8080);
    CHECK(w.members == std::vector<std::uint16_t>{rs1, rs2, rs3});
    const RealServerEntry& e = s.real_servers[rs1];
    CHECK(e.address == net(203, 0, 113, 11));
    CHECK(e.port == port(8080));
    CHECK(e.service == *b.registry.find_service("web"));
    CHECK(e.egress == 1);
    CHECK(b.neighbours.at(e.neighbour).address == net(203, 0, 113, 11));
    CHECK(b.neighbours.at(e.neighbour).interface == 1);
    CHECK_FALSE(e.removed);
    // DR without a port keeps the packet's destination port.
    const ServiceEntry& f = s.services[*b.registry.find_service("ftp")];
    CHECK(s.real_servers[f.members[0]].port == 0);
    CHECK(s.real_servers[f.members[0]].egress == 0);
}

TEST_CASE("a real server beyond the interface's subnet is reached through its gateway") {
    Builder b;
    const Snapshot& s = b.build(gateway_interfaces + R"(services:
  - name: far
    vip: 198.51.100.100
    port: 80
    real_servers: [{address: 192.0.2.7, interface: int}]
)");
    const RealServerEntry& e = s.real_servers[b.server("far", host(192, 0, 2, 7))];
    CHECK(e.egress == 1);
    CHECK(b.neighbours.at(e.neighbour).address == net(203, 0, 113, 254));
}

TEST_CASE("weights: the largest and their greatest common divisor drive wrr") {
    Builder b;
    const Snapshot& s = b.build(services);
    const ServiceEntry& w = s.services[*b.registry.find_service("web")];
    CHECK(w.max_weight == 4);
    CHECK(w.weight_gcd == 2);
    const RealServerEntry& zero = s.real_servers[b.server("web", host(203, 0, 113, 13), 8080)];
    CHECK(zero.weight == 0);
    CHECK_FALSE(zero.available()); // weight 0: drained
    CHECK(s.real_servers[b.server("web", host(203, 0, 113, 12), 8080)].weight == 4);
}

TEST_CASE("servers failing their health checks are drained, and only their Maglev slots move") {
    Builder healthy;
    const Snapshot& before = healthy.build(services);
    const auto ftp = *healthy.registry.find_service("ftp");
    const auto down_rs = healthy.server("ftp", host(198, 51, 100, 22));
    const std::vector<std::uint16_t> table = before.services[ftp].maglev;
    REQUIRE(table.size() == 251);
    REQUIRE(std::count(table.begin(), table.end(), down_rs) > 0);

    DownSet down{{"ftp", host(198, 51, 100, 22), 0}, {"web", host(203, 0, 113, 12), 8080}};
    Builder b;
    const Snapshot& s = b.build(services, &down);
    const RealServerEntry& e = s.real_servers[b.server("ftp", host(198, 51, 100, 22))];
    CHECK(e.weight == 0);
    CHECK_FALSE(e.removed); // still configured: its connections go on
    const auto& after = s.services[ftp].maglev;
    REQUIRE(after.size() == table.size());
    for (std::size_t slot = 0; slot < table.size(); ++slot) {
        CHECK(after[slot] != down_rs);
        if (table[slot] != down_rs)
            CHECK(after[slot] == table[slot]);
    }
    // The web service's largest weight is down: the rest decide.
    const ServiceEntry& w = s.services[*b.registry.find_service("web")];
    CHECK(w.max_weight == 2);
    CHECK(w.weight_gcd == 2);
    CHECK(w.members.size() == 3);
}

TEST_CASE("below its quorum a service sends new connections to its sorry server alone") {
    const std::string yaml = std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    quorum: 2
    sorry_server: {address: 203.0.113.99, port: 8080}
    real_servers:
      - {address: 203.0.113.11, port: 8080}
      - {address: 203.0.113.12, port: 8080}
)";
    Builder b;
    const Snapshot& all_up = b.build(yaml);
    const auto sorry =
        b.registry.find_real_server(lb::control::sorry_key("web"), host(203, 0, 113, 99), 8080);
    REQUIRE(sorry);
    CHECK(all_up.services[0].members.size() == 2); // the sorry server has its entry, unused
    CHECK(all_up.real_servers[*sorry].address == net(203, 0, 113, 99));

    DownSet down{{"web", host(203, 0, 113, 11), 8080}};
    const Snapshot& s = b.build(yaml, &down);
    CHECK(s.services[0].members == std::vector<std::uint16_t>{*sorry});
    CHECK(s.services[0].max_weight == 1);
    // The real servers keep their entries for the connections they still have.
    CHECK_FALSE(s.real_servers[b.server("web", host(203, 0, 113, 12), 8080)].removed);
}

TEST_CASE("a reload keeps numbers, and what it removes stays as removed entries to drain") {
    Builder b;
    b.build(services);
    const auto web = *b.registry.find_service("web");
    const auto ftp = *b.registry.find_service("ftp");
    const auto kept = b.server("web", host(203, 0, 113, 12), 8080);
    const auto dropped = b.server("web", host(203, 0, 113, 11), 8080);
    const Snapshot& s = b.build(std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    scheduler: wrr
    real_servers:
      - {address: 203.0.113.12, port: 8080, weight: 4}
      - {address: 203.0.113.14, port: 8080}
)");
    CHECK(s.generation == 2);
    CHECK(*b.registry.find_service("web") == web);
    CHECK(b.server("web", host(203, 0, 113, 12), 8080) == kept);
    const auto added = b.server("web", host(203, 0, 113, 14), 8080);
    CHECK(added != dropped);
    CHECK(added != kept);
    CHECK(s.services[web].members == std::vector<std::uint16_t>{kept, added});

    CHECK(s.real_servers[dropped].removed);
    CHECK(s.real_servers[dropped].weight == 0);
    CHECK(s.real_servers[dropped].address == net(203, 0, 113, 11)); // its connections drain
    CHECK_FALSE(s.real_servers[kept].removed);

    // The removed service: an entry without members; its VIP is still answered (ARP, ICMP)
    // while its connections drain, but its ports take no new connection.
    REQUIRE(s.services.size() > ftp);
    CHECK(s.services[ftp].members.empty());
    CHECK(s.services[ftp].maglev.empty());
    CHECK(s.service_index.is_vip(net(198, 51, 100, 101)));
    CHECK(s.service_index.find(net(198, 51, 100, 101), IPPROTO_TCP, port(21)) == -1);
}

TEST_CASE("a real server removed and added again gets its old number back") {
    Builder b;
    b.build(services);
    const auto first = b.server("web", host(203, 0, 113, 11), 8080);
    b.build(std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    real_servers: [{address: 203.0.113.12, port: 8080}]
)");
    CHECK(b.current->real_servers[first].removed);
    const Snapshot& s = b.build(services);
    CHECK(b.server("web", host(203, 0, 113, 11), 8080) == first);
    CHECK_FALSE(s.real_servers[first].removed);
    CHECK(s.real_servers[first].weight == 2);
}

TEST_CASE("VRRP: instances own their addresses and the services on them") {
    Builder b;
    const Snapshot& s = b.build(std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    real_servers: [{address: 203.0.113.11}]
  - name: other
    vip: 198.51.100.200
    port: 80
    real_servers: [{address: 203.0.113.11}]
vrrp:
  instances:
    - name: front
      interface: ext
      virtual_router_id: 51
      virtual_addresses: [198.51.100.100, 198.51.100.254]
    - name: back
      interface: int
      virtual_router_id: 52
      use_vmac: false
      unicast_peers: [203.0.113.3]
      virtual_addresses: [203.0.113.254]
)");
    REQUIRE(s.vrrp_instances.size() == 2);
    CHECK(s.vrrp_instances[0].interface == 0);
    const std::uint8_t vmac[6] = {0x00, 0x00, 0x5e, 0x00, 0x01, 51};
    CHECK(std::equal(vmac, vmac + 6, s.vrrp_instances[0].mac.addr_bytes));
    // Without a virtual MAC the instance answers from its port's.
    CHECK(s.vrrp_instances[1].interface == 1);
    CHECK(s.vrrp_instances[1].mac.addr_bytes[5] == 2);

    CHECK(s.vrrp_instance_of(net(198, 51, 100, 100)) == 0);
    CHECK(s.vrrp_instance_of(net(198, 51, 100, 254)) == 0);
    CHECK(s.vrrp_instance_of(net(203, 0, 113, 254)) == 1);
    CHECK(s.vrrp_instance_of(net(198, 51, 100, 200)) == no_vrrp_instance);
    CHECK(s.services[*b.registry.find_service("web")].vrrp_instance == 0);
    CHECK(s.services[*b.registry.find_service("other")].vrrp_instance == no_vrrp_instance);

    // The unicast peer's MAC is kept resolved: it has a neighbour entry on its interface.
    bool peer = false;
    for (std::uint32_t i = 0; i < b.neighbours.size(); ++i)
        peer |=
            b.neighbours.at(i).address == net(203, 0, 113, 3) && b.neighbours.at(i).interface == 1;
    CHECK(peer);
}

TEST_CASE("a snapshot needs one port binding per interface") {
    const auto config = config_from(services);
    NeighbourTable neighbours;
    IdentityRegistry registry;
    CHECK_THROWS_AS(build_snapshot(config, fake_ports(1), neighbours, registry, nullptr, 1),
                    std::logic_error);
}
