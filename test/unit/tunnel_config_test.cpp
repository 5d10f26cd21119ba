// Tunnel forwarding on the control side: the configuration (`forwarding: tunnel`, an
// interface's `mtu`, every mistake located) and the snapshot the workers get from it
// (replication: test/unit/session_bridge_test.cpp).
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <string>

#include "control/identity_registry.hpp"
#include "control/snapshot_builder.hpp"
#include "test/test_config.hpp"
#include "test/unit/expect_config_error.hpp"

using namespace lb::control::config;
using lb::test::expect_error;
using lb::test::only_errors;

namespace {

// Lines 1-6; `int` has a gateway, so servers on other subnets are reachable through it.
const std::string header = R"(node: {name: lb-a}
interfaces:
  - {name: ext, device: d0, address: 198.51.100.2/24}
  - name: int
    device: d1
    address: 203.0.113.1/24
)";

const std::string gateway = "    gateway: 203.0.113.254\n"; // line 7 when used

// A tunnel service from line 8 (after `gateway`).
std::string tunnel_service(const std::string& servers) {
    return "services:\n"
           "  - name: web\n"
           "    vip: 198.51.100.100\n"
           "    port: 80\n"
           "    forwarding: tunnel\n"
           "    real_servers:\n" +
           servers;
}

} // namespace

TEST_CASE("tunnel config: real servers on routed subnets, mtu with its default") {
    const auto r = load_config_text(header + "    mtu: 1480\n" + gateway +
                                    tunnel_service("      - {address: 192.0.2.50}\n"
                                                   "      - {address: 203.0.113.11, port: 80}\n"));
    INFO(only_errors(r));
    REQUIRE(r.config);
    const Config& c = *r.config;
    CHECK(c.services[0].forwarding == Forwarding::tunnel);
    CHECK(std::string(to_string(Forwarding::tunnel)) == "tunnel");
    CHECK(c.interfaces[0].mtu == 1500);
    CHECK(c.interfaces[1].mtu == 1480);
}

TEST_CASE("tunnel config: every mistake is located") {
    SECTION("a port that would translate") {
        expect_error(header + gateway +
                         tunnel_service("      - address: 192.0.2.50\n"
                                        "        port: 8080\n"),
                     15, 15, "tunnel forwarding cannot translate ports");
    }
    SECTION("a port in a port-range group") {
        expect_error(header + gateway +
                         "services:\n  - name: g\n    vip: 198.51.100.100\n    ports: [80, 443]\n"
                         "    forwarding: tunnel\n    real_servers:\n"
                         "      - {address: 192.0.2.50, port: 80}\n",
                     14, 37, "tunnel forwarding cannot translate ports");
    }
    SECTION("a routed server with no gateway to reach it") {
        expect_error(header + tunnel_service("      - address: 192.0.2.50\n"), 13, 9,
                     "is unreachable: no interface's subnet holds it");
    }
    SECTION("a forwarding kind that does not exist") {
        expect_error(header + gateway +
                         "services:\n  - name: a\n    vip: 198.51.100.100\n    port: 80\n"
                         "    forwarding: ipip\n",
                     12, 17, "forwarding: 'ipip' is not one of nat, dr, tunnel");
    }
    SECTION("an mtu out of range, or not a number") {
        expect_error(header + "    mtu: 100\n", 7, 10, "mtu: 100 is out of range (576..9000)");
        expect_error(header + "    mtu: 9001\n", 7, 10, "mtu: 9001 is out of range (576..9000)");
        expect_error(header + "    mtu: jumbo\n", 7, 10,
                     "mtu: 'jumbo' is not a non-negative integer");
    }
    SECTION("the FTP helper is not for tunnels") {
        expect_error(header + gateway +
                         "services:\n  - name: a\n    vip: 198.51.100.100\n    port: 21\n"
                         "    forwarding: tunnel\n    ftp: true\n",
                     13, 10, "the FTP helper is for NAT");
    }
    SECTION("DR's refusal of a routed server points at tunnels") {
        expect_error(header + gateway +
                         "services:\n  - name: a\n    vip: 198.51.100.100\n    port: 80\n"
                         "    forwarding: dr\n    real_servers:\n      - address: 192.0.2.50\n",
                     14, 9, "forwarding: tunnel reaches routed ones");
    }
}

TEST_CASE("tunnel snapshot: the service forwards by tunnel, the interface has its MTU, a routed "
          "server's next hop is the gateway") {
    const auto config = lb::test::config_from(header + "    mtu: 1400\n" + gateway +
                                              tunnel_service("      - {address: 192.0.2.50}\n"));
    lb::dataplane::NeighbourTable neighbours;
    lb::control::IdentityRegistry registry;
    const auto s = lb::control::build_snapshot(config, lb::test::fake_ports(2), neighbours,
                                               registry, nullptr, 1);
    CHECK(s->services[0].forwarding == lb::dataplane::ForwardingKind::tunnel);
    CHECK(s->interfaces[0].mtu == 1500);
    CHECK(s->interfaces[1].mtu == 1400);
    const auto& rs = s->real_servers[s->services[0].members[0]];
    CHECK(rs.egress == 1);
    CHECK(neighbours.at(rs.neighbour).address == inet_addr("203.0.113.254"));
}
