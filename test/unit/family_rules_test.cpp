// Issue 23's family rules, each where it is broken: NAT and DR stay in the client's family, a
// tunnel may cross it; DR6 needs an on-link server; a VRRP instance, a sync link and a BGP
// session are one family each. IPv6 is read and checked now; the dataplane's lack of it is
// refused last, at the first place IPv6 is written ("not supported yet").
#include <catch2/catch.hpp>

#include <string>

#include "control/config/loader.hpp"
#include "test/unit/expect_config_error.hpp"

using namespace lb::control::config;
using lb::test::expect_errors;
using lb::test::only_errors;

namespace {

const std::string not_yet = "IPv6 is not supported yet";

// A dual-stack node (valid: interfaces' IPv6 addresses are the node's); lines 1-9. What follows
// starts on line 10. Diagnostics come in the file's order; at one place, rules before "not
// supported yet".
std::string node(const std::string& rest) {
    return R"(node: {name: lb-a}
interfaces:
  - name: ext
    device: net_af_packet0
    addresses: [198.51.100.2/24, "2001:db8:100::2/64"]
    gateways: [198.51.100.1, "fe80::1"]
  - name: int
    device: net_af_packet1
    addresses: [203.0.113.2/24, "2001:db8:200::2/64"]
)" + rest;
}

} // namespace

TEST_CASE("family rules: services") {
    // NAT and DR: the real server in the VIP's family.
    expect_errors(
        node(R"(services:
  - {name: a, vip: "2001:db8:100::100", port: 80, real_servers: [{address: 203.0.113.11}]}
  - {name: b, vip: 198.51.100.100, port: 80, forwarding: dr,
     real_servers: [{address: "2001:db8:200::11"}]}
)"),
        std::vector<lb::test::ExpectedError>({{11, 20, not_yet},
                                              {11, 66,
                                               "real server 203.0.113.11 is IPv4 and the VIP "
                                               "2001:db8:100::100 is IPv6: forwarding: nat stays"},
                                              {13, 21,
                                               "real server 2001:db8:200::11 is IPv6 and the VIP "
                                               "198.51.100.100 is IPv4: forwarding: dr stays"}}));
    // A tunnel crosses families; DR6 needs the server on a connected subnet; an IPv6 server
    // with no IPv6 gateway anywhere is unreachable.
    expect_errors(
        node(R"(services:
  - {name: t, vip: 198.51.100.100, port: 80, forwarding: tunnel,
     real_servers: [{address: "2001:db8:300::21"}]}
  - {name: d, vip: "2001:db8:100::101", port: 80, forwarding: dr,
     real_servers: [{address: "2001:db8:300::21"}, {address: "2001:db8:200::21"}]}
)"),
        std::vector<lb::test::ExpectedError>({{12, 21, not_yet},
                                              {13, 20, not_yet},
                                              {14, 21,
                                               "DR needs the real server on a directly connected "
                                               "subnet (interface 'ext' is 2001:db8:100::2/64)"}}));
    // A VIP may not be a node address of either family; ports are claimed per family.
    expect_errors(node(R"(services:
  - {name: a, vip: "2001:db8:100::2", port: 80, real_servers: [{address: "2001:db8:200::11"}]}
  - {name: b, vip: "2001:db8:100::100", port: 80, real_servers: [{address: "2001:db8:200::11"}]}
  - {name: c, vip: "2001:db8:100::100", port: 80, real_servers: [{address: "2001:db8:200::12"}]}
)"),
                  std::vector<lb::test::ExpectedError>(
                      {{11, 20, "vip 2001:db8:100::2 is the node address of interface 'ext'"},
                       {11, 20, not_yet},
                       {12, 20, not_yet},
                       {13, 20, not_yet},
                       {13, 47, "tcp [2001:db8:100::100]:80 is already claimed by service 'b'"}}));
}

TEST_CASE("family rules: a VRRP instance is one family, IPv6 in version 3") {
    expect_errors(
        node(R"(vrrp:
  instances:
    - {name: v6, interface: ext, virtual_router_id: 51, version: 2,
       virtual_addresses: ["fe80::51", "2001:db8:100::50"]}
    - {name: v4, interface: ext, virtual_router_id: 51,
       virtual_addresses: [198.51.100.50], unicast_peers: ["2001:db8:100::3"]}
)"),
        std::vector<lb::test::ExpectedError>({{12, 7, not_yet},
                                              {12, 7, "an IPv6 VRRP instance needs version: 3"},
                                              {14, 7,
                                               "unicast peer 2001:db8:100::3 is not of the "
                                               "instance's family"}}));
}

TEST_CASE("family rules: a sync link is one family, on the interface's link") {
    expect_errors(node(R"(replication:
  interface: int
  peers: ["2001:db8:200::3", 203.0.113.3, "2001:db8:999::3", "fe80::3"]
  key_file: /nonexistent/sync.key
)"),
                  std::vector<lb::test::ExpectedError>(
                      {{12, 11, not_yet},
                       {12, 30, "peer 203.0.113.3 is not of the first peer's family"},
                       {12, 43,
                        "peer 2001:db8:999::3 is not on interface 'int' "
                        "(2001:db8:200::2/64)"},
                       {13, 13, "sync.key"}}));
}

TEST_CASE("family rules: BGP neighbours of either family, on a subnet") {
    expect_errors(node(R"(bgp:
  local_as: 65001
  neighbors:
    - {address: "2001:db8:100::1", as: 65000}
    - {address: "2001:db8:999::1", as: 65000}
)"),
                  std::vector<lb::test::ExpectedError>({{13, 17, not_yet},
                                                        {14, 17, not_yet},
                                                        {14, 17,
                                                         "neighbor 2001:db8:999::1 is not on any "
                                                         "interface's subnet"}}));
    // The router ID is a 32-bit number: an IPv6-only node needs one written.
    const auto r = load_config_text(R"(node: {name: lb-a}
interfaces:
  - {name: ext, device: net_af_packet0, addresses: ["2001:db8:100::2/64"]}
bgp:
  local_as: 65001
  neighbors: [{address: "2001:db8:100::1", as: 65000}]
)");
    INFO(only_errors(r));
    CHECK_THAT(only_errors(r), Catch::Contains("f.yaml:5:3: bgp needs 'router_id'"));
}
