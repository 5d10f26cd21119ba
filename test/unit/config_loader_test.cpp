#include <catch2/catch.hpp>

#include <string>

#include "control/config/loader.hpp"
#include "test/unit/expect_config_error.hpp"

using namespace lb::control::config;

namespace {

// A valid configuration to start from; tests append or replace pieces of it.
const std::string header = R"(node:
  name: lb-a
dpdk:
  eal_args: ["--no-pci"]
interfaces:
  - name: ext
    device: net_af_packet0
    address: 198.51.100.2/24
    gateway: 198.51.100.1
  - name: int
    device: net_af_packet1
    address: 203.0.113.1/24
)";

} // namespace

using lb::test::expect_error;
using lb::test::only_errors;

TEST_CASE("a complete configuration loads with defaults filled in") {
    const LoadResult r = load_config_text(header + R"(services:
  - name: web
    vip: 198.51.100.100
    protocol: tcp
    port: 80
    scheduler: mh
    forwarding: nat
    persistence:
      timeout: 300s
      netmask: 255.255.255.0
    real_servers:
      - address: 203.0.113.11
        port: 8080
        weight: 3
      - address: 203.0.113.12
  - name: ftp
    vip: 198.51.100.100
    ports: [21, 20, "10000-10100"]
    forwarding: dr
    real_servers:
      - address: 198.51.100.21
timeouts:
  tcp_established: 1h
  udp: 1m30s
)");
    INFO(only_errors(r));
    REQUIRE(r.config);
    const Config& c = *r.config;
    CHECK(c.node_name == "lb-a");
    CHECK(c.dpdk.workers == 1);
    CHECK(c.dpdk.idle_backoff);
    REQUIRE(c.services.size() == 2);
    CHECK(c.services[0].scheduler == Scheduler::mh);
    CHECK(c.services[0].persistence->timeout == Milliseconds{300'000});
    CHECK(c.services[0].persistence->netmask == 0xffffff00u);
    CHECK(c.services[0].real_servers[0].weight == 3);
    CHECK(c.services[0].real_servers[1].weight == 1);
    CHECK(c.services[1].port_group);
    CHECK(c.services[1].ports.size() == 3);
    CHECK(c.services[1].ports[2].first == 10000);
    CHECK(c.services[1].ports[2].last == 10100);
    CHECK(c.timeouts.tcp_established == Milliseconds{3'600'000});
    CHECK(c.timeouts.udp == Milliseconds{90'000});
    CHECK(c.timeouts.tcp_syn == Milliseconds{60'000});
}

TEST_CASE("YAML syntax errors carry their location") {
    const LoadResult r = load_config_text("node:\n  name: [unclosed\n");
    REQUIRE_FALSE(r.config);
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].location.line >= 2);
}

TEST_CASE("unknown keys are errors at the key") {
    expect_error(header + "servics: []\n", 13, 1, "unknown key 'servics'");
    expect_error(header + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    persistance: {timeout: 10s}
    real_servers: []
)",
                 17, 5, "unknown key 'persistance' in service");
    expect_error(header + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    real_servers:
      - address: 203.0.113.11
        wieght: 2
)",
                 19, 9, "unknown key 'wieght' in real server");
}

TEST_CASE("semantic errors point at the offending value: services and ports") {
    SECTION("duplicate service names") {
        expect_error(header + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
  - name: web
    vip: 198.51.100.101
    port: 80
)",
                     17, 11, "service name 'web' is used twice");
    }
    SECTION("two services on the same VIP, protocol and port") {
        expect_error(header + R"(services:
  - name: a
    vip: 198.51.100.100
    port: 80
  - name: b
    vip: 198.51.100.100
    port: 80
)",
                     19, 11, "already claimed by service 'a'");
    }
    SECTION("the same port on another protocol is fine") {
        const LoadResult r = load_config_text(header + R"(services:
  - name: a
    vip: 198.51.100.100
    port: 53
  - name: b
    vip: 198.51.100.100
    protocol: udp
    port: 53
)");
        INFO(only_errors(r));
        CHECK(r.config);
    }
    SECTION("overlapping port ranges within a VIP") {
        expect_error(header + R"(services:
  - name: ftp
    vip: 198.51.100.100
    ports: [21, "10000-10100"]
  - name: other
    vip: 198.51.100.100
    ports: ["10100-10200"]
)",
                     19, 13, "already claimed by service 'ftp'");
        expect_error(header + R"(services:
  - name: ftp
    vip: 198.51.100.100
    ports: [21, "10000-10100", "10050"]
)",
                     16, 32, "overlap");
    }
    SECTION("weight out of range") {
        expect_error(header + R"(services:
  - name: a
    vip: 198.51.100.100
    port: 80
    real_servers:
      - address: 203.0.113.11
        weight: 65536
)",
                     19, 17, "65536 is out of range (0..65535)");
        expect_error(header + R"(services:
  - name: a
    vip: 198.51.100.100
    port: 80
    real_servers:
      - address: 203.0.113.11
        weight: -1
)",
                     19, 17, "not a non-negative integer");
    }
    SECTION("port translation in DR mode") {
        expect_error(header + R"(services:
  - name: a
    vip: 198.51.100.100
    port: 80
    forwarding: dr
    real_servers:
      - address: 198.51.100.21
        port: 8080
)",
                     20, 15, "DR forwarding cannot translate ports");
    }
    SECTION("NAT port translation needs a single-port service") {
        expect_error(header + R"(services:
  - name: a
    vip: 198.51.100.100
    ports: [80, 443]
    real_servers:
      - address: 203.0.113.11
        port: 8080
)",
                     19, 15, "needs a single-port service");
    }
}

TEST_CASE("semantic errors point at the offending value: addresses, durations, tables") {
    SECTION("a netmask that is not a netmask") {
        expect_error(header + R"(services:
  - name: a
    vip: 198.51.100.100
    port: 80
    persistence:
      netmask: 255.0.255.0
)",
                     18, 16, "is not a netmask");
    }
    SECTION("a VIP equal to a node address") {
        expect_error(header + R"(services:
  - name: a
    vip: 203.0.113.1
    port: 80
)",
                     15, 10, "is the node address of interface 'int'");
    }
    SECTION("a reference to an undefined interface") {
        expect_error(header + R"(services:
  - name: a
    vip: 198.51.100.100
    port: 80
    real_servers:
      - address: 192.0.2.10
        interface: dmz
)",
                     19, 20, "interface 'dmz' is not defined");
    }
    SECTION("a duration that does not parse") {
        expect_error(header + R"(timeouts:
  tcp_fin: 2 minutes
)",
                     14, 12, "is not a duration");
        expect_error(header + R"(timeouts:
  udp: 300
)",
                     14, 8, "is not a duration");
    }
    SECTION("an address that does not parse") {
        expect_error(header + R"(services:
  - name: a
    vip: 198.51.100.256
    port: 80
)",
                     15, 10, "is not an IPv4 address");
    }
    SECTION("DR needs a directly connected real server") {
        expect_error(header + R"(services:
  - name: a
    vip: 198.51.100.100
    port: 80
    forwarding: dr
    real_servers:
      - address: 192.0.2.10
)",
                     19, 9, "DR needs the real server on a directly connected subnet");
    }
    SECTION("Maglev table size must be prime") {
        expect_error(header + R"(services:
  - name: a
    vip: 198.51.100.100
    port: 80
    scheduler: mh
    maglev_table_size: 65536
)",
                     18, 24, "must be a prime number");
    }
    SECTION("both port and ports") {
        expect_error(header + R"(services:
  - name: a
    vip: 198.51.100.100
    port: 80
    ports: [81]
)",
                     17, 12, "exactly one of 'port' and 'ports'");
    }
    SECTION("a gateway outside the interface's subnet") {
        expect_error(R"(node: {name: x}
interfaces:
  - name: ext
    device: d0
    address: 198.51.100.2/24
    gateway: 203.0.113.1
)",
                     6, 14, "is not inside ext's subnet");
    }
}

TEST_CASE("every error of a file is reported, in file order") {
    const LoadResult r = load_config_text(header + R"(services:
  - name: a
    vip: nope
    port: 0
    scheduler: fastest
)");
    REQUIRE(r.diagnostics.size() == 3);
    CHECK(r.diagnostics[0].location.line == 15);
    CHECK(r.diagnostics[1].location.line == 16);
    CHECK(r.diagnostics[2].location.line == 17);
    CHECK_THAT(r.diagnostics[2].message, Catch::Contains("'fastest' is not one of rr, wrr"));
}

TEST_CASE("the FTP helper: on by default for NAT services with port 21, refused where it "
          "cannot work") {
    const LoadResult r = load_config_text(header + R"(services:
  - name: ftp
    vip: 198.51.100.100
    ports: [21, "10000-10100"]
  - name: ftp-alt
    vip: 198.51.100.101
    port: 2121
    ftp: true
  - name: web
    vip: 198.51.100.100
    port: 80
  - name: ftp-off
    vip: 198.51.100.102
    port: 21
    ftp: false
)");
    INFO(only_errors(r));
    REQUIRE(r.config);
    CHECK(Config::ftp_control_port(r.config->services[0]) == 21);
    CHECK(Config::ftp_control_port(r.config->services[1]) == 2121);
    CHECK(Config::ftp_control_port(r.config->services[2]) == 0);
    CHECK(Config::ftp_control_port(r.config->services[3]) == 0);
    expect_error(header + R"(services:
  - name: ftp
    vip: 198.51.100.100
    ports: [21, 20]
    forwarding: dr
    ftp: true
)",
                 18, 10, "the FTP helper is for NAT");
    expect_error(header + R"(services:
  - name: ftp
    vip: 198.51.100.100
    ports: [2121, 2120]
    ftp: true
)",
                 17, 10, "needs port 21, or a single port");
}

TEST_CASE("the metrics and admin endpoints are checked") {
    expect_error(header + R"(stats:
  listen: localhost
)",
                 14, 11, "is not ADDRESS:PORT");
    expect_error(header + R"(stats:
  listen: 127.0.0.1:0
)",
                 14, 11, "is not ADDRESS:PORT");
    expect_error(header + R"(admin:
  socket: relative/lb.sock
)",
                 14, 11, "needs an absolute path");
    const LoadResult r = load_config_text(header + "stats: {listen: 127.0.0.1:9100}\n");
    REQUIRE(r.config);
    CHECK(r.config->stats.listen == "127.0.0.1:9100");
    CHECK(r.config->admin.socket == "/run/lb/lb.sock");
}

TEST_CASE("VRRP instances: parsed with defaults, and every mistake located") {
    const LoadResult r = load_config_text(header + R"(vrrp:
  instances:
    - name: outside
      interface: ext
      virtual_router_id: 51
      priority: 150
      advert_int: 100ms
      virtual_addresses: [198.51.100.100, 198.51.100.101]
    - name: legacy
      interface: int
      virtual_router_id: 52
      version: 2
      authentication: {type: PASS, password: secret}
      unicast_peers: [203.0.113.2]
      unicast_source: 203.0.113.1
      virtual_addresses: [203.0.113.254]
      use_vmac: false
      garp: {repeat: 3, refresh: 60s}
)");
    INFO(only_errors(r));
    REQUIRE(r.config);
    REQUIRE(r.config->vrrp.instances.size() == 2);
    const auto& a = r.config->vrrp.instances[0];
    CHECK(a.advert_int == Milliseconds{100});
    CHECK(a.version == 3);
    CHECK(a.use_vmac);
    CHECK(a.preempt);
    CHECK(a.garp.repeat == 5);
    const auto& b = r.config->vrrp.instances[1];
    CHECK(b.password == "secret");
    CHECK(b.unicast_peers.size() == 1);
    CHECK_FALSE(b.use_vmac);
    CHECK(b.garp.refresh == Milliseconds{60'000});

    auto instance = [&](const std::string& body) {
        return header + "vrrp:\n  instances:\n    - name: v\n      interface: ext\n" + body;
    };
    expect_error(
        instance("      virtual_router_id: 0\n      virtual_addresses: [198.51.100.100]\n"), 17, 26,
        "out of range (1..255)");
    expect_error(instance("      virtual_router_id: 1\n      advert_int: 15ms\n"
                          "      virtual_addresses: [198.51.100.100]\n"),
                 18, 19, "VRRPv3 counts in 10 ms steps");
    expect_error(instance("      virtual_router_id: 1\n      version: 2\n      advert_int: 500ms\n"
                          "      virtual_addresses: [198.51.100.100]\n"),
                 19, 19, "VRRPv2 counts whole seconds");
    expect_error(instance("      virtual_router_id: 1\n      authentication: {type: PASS, "
                          "password: x}\n      virtual_addresses: [198.51.100.100]\n"),
                 18, 23, "authentication is VRRPv2 only");
    expect_error(instance("      virtual_router_id: 1\n      virtual_addresses: [198.51.100.2]\n"),
                 15, 7, "is the node address of interface 'ext'");
    expect_error(instance("      virtual_router_id: 1\n      virtual_adresses: [198.51.100.100]\n"
                          "      virtual_addresses: [198.51.100.100]\n"),
                 18, 7, "unknown key 'virtual_adresses'");
    expect_error(header + R"(vrrp:
  instances:
    - {name: a, interface: ext, virtual_router_id: 7, virtual_addresses: [198.51.100.100]}
    - {name: b, interface: ext, virtual_router_id: 7, virtual_addresses: [198.51.100.101]}
)",
                 16, 52, "virtual_router_id 7 is used twice on interface 'ext'");
    expect_error(header + R"(vrrp:
  instances:
    - {name: a, interface: dmz, virtual_router_id: 7, virtual_addresses: [198.51.100.100]}
)",
                 15, 28, "interface 'dmz' is not defined");
}
