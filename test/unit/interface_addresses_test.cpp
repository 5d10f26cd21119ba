// An interface's addresses and gateways: the single `address`/`gateway` and the dual-stack
// lists `addresses`/`gateways` (issue 23's contract). IPv6 values are read and their rules
// checked. They are the node's own (the kernel exception path holds them); services over IPv6
// are refused until the dataplane forwards IPv6 (family_rules_test.cpp).
#include <catch2/catch.hpp>

#include <string>

#include "control/config/loader.hpp"
#include "test/unit/expect_config_error.hpp"

using namespace lb::control::config;
using lb::test::expect_error;
using lb::test::only_errors;

namespace {

// Line 5 holds the interface's address keys, line 6 its gateway keys.
std::string with(const std::string& addresses, const std::string& gateways = "") {
    return R"(node: {name: lb-a}
interfaces:
  - name: ext
    device: net_af_packet0
    )" + addresses +
           "\n" + (gateways.empty() ? "" : "    " + gateways + "\n");
}

} // namespace

TEST_CASE("interface addresses: the list form is the single form's equal") {
    const auto single = load_config_text(with("address: 198.51.100.2/24", "gateway: 198.51.100.1"));
    const auto list =
        load_config_text(with("addresses: [198.51.100.2/24]", "gateways: [198.51.100.1]"));
    INFO(only_errors(single) + only_errors(list));
    REQUIRE(single.config);
    REQUIRE(list.config);
    CHECK(single.config->interfaces == list.config->interfaces);
    const Interface& i = list.config->interfaces[0];
    CHECK(i.address == 0xc6336402);
    CHECK(i.prefix_length == 24);
    CHECK(i.gateway == 0xc6336401);
    CHECK(i.address_location.line == 5);
    CHECK(i.gateway_location.line == 6);
    CHECK(load_config_text(with("addresses: [198.51.100.2/24]", "gateways: []")).config);
}

TEST_CASE("interface addresses: each mistake at its place") {
    expect_error(with("addresses: [198.51.100.2/24]", R"(gateways: [198.51.100.1, "2001:db8::1"])"),
                 6, 30,
                 "gateway 2001:db8::1: interface 'ext' has no IPv6 address to reach it from");
    expect_error(with("addresses: [198.51.100.2/24, 198.51.100.3/24]"), 5, 34,
                 "one IPv4 address at most; 198.51.100.3 is the second");
    expect_error(with("addresses: [198.51.100.2/24]", "gateways: [198.51.100.1, 198.51.100.9]"), 6,
                 30, "one gateway per family");
    expect_error(with("addresses: []"), 5, 16, "non-empty list");
    expect_error(with("addresses: 198.51.100.2/24"), 5, 16, "non-empty list");
    expect_error(with("addresses: [198.51.100.2/33]"), 5, 17, "bad prefix length (0..32)");
    expect_error(with("addresses: [\"2001:db8::2/129\"]"), 5, 17, "bad prefix length (0..128)");
    expect_error(with("addresses: [\"fe80::1%eth0/64\"]"), 5, 17, "zone index");
    expect_error(with("address: 198.51.100.2/24\n    addresses: [198.51.100.2/24]"), 6, 16,
                 "give 'address' or 'addresses', not both");
    expect_error(
        with("address: 198.51.100.2/24", "gateway: 198.51.100.1\n    gateways: [198.51.100.1]"), 7,
        15, "give 'gateway' or 'gateways', not both");
    expect_error(with("mtu: 1500"), 3, 5, "needs 'address'");
}

TEST_CASE("interface addresses: dual-stack and IPv6-only interfaces") {
    const auto r = load_config_text(with(R"(addresses: [198.51.100.2/24, "2001:db8:100::2/64",
                 "2001:db8:101::2/48"])",
                                         R"(gateways: ["fe80::1", 198.51.100.1])"));
    INFO(only_errors(r));
    REQUIRE(r.config);
    const Interface& i = r.config->interfaces[0];
    CHECK(i.address == 0xc6336402);
    REQUIRE(i.ipv6_addresses.size() == 2);
    CHECK(format_ip(i.ipv6_addresses[1].address) == "2001:db8:101::2");
    CHECK(i.ipv6_addresses[1].length == 48);
    CHECK(i.ipv6_address_locations[1].line == 6);
    CHECK(format_ip(*i.ipv6_gateway) == "fe80::1");
    CHECK(i.gateway == 0xc6336401);
    std::string error;
    CHECK(i.holds(*parse_ip_address("2001:db8:101:ff::9", error)));
    CHECK_FALSE(i.holds(*parse_ip_address("2001:db8:102::9", error)));
    // IPv6 alone: no IPv4 address needed.
    const auto v6 = load_config_text(with(R"(addresses: ["2001:db8:100::2/64"])"));
    INFO(only_errors(v6));
    REQUIRE(v6.config);
    CHECK_FALSE(v6.config->interfaces[0].has_ipv4());
    // The node's IPv6 addresses live on the kernel exception path for now.
    expect_error(with(R"(addresses: ["2001:db8:100::2/64"])"
                      "\n    kernel: false"),
                 5, 17, "on an interface with kernel: false");
}

TEST_CASE("interface addresses: the IPv6 rules") {
    expect_error(with(R"(addresses: ["2001:db8:100::2/128"])"), 5, 17,
                 "2001:db8:100::2/128: the prefix must leave room for a subnet (1..127)");
    expect_error(with(R"(addresses: ["2001:db8:100::2/64", "2001:db8:100::2/64"])"), 5, 39,
                 "address 2001:db8:100::2 is already interface 'ext''s (line 5)");
    expect_error(with(R"(addresses: ["2001:db8:100::2/64"])", R"(gateways: ["2001:db8:200::1"])"),
                 6, 16,
                 "gateway 2001:db8:200::1 is not inside ext's subnets (2001:db8:100::2/64) and is "
                 "not link-local");
    expect_error(with("addresses: [198.51.100.2/24]", R"(gateways: ["2001:db8::1"])"), 6, 16,
                 "gateway 2001:db8::1: interface 'ext' has no IPv6 address");
    expect_error(with(R"(addresses: ["2001:db8::2/64"])", "gateways: [198.51.100.1]"), 6, 16,
                 "gateway 198.51.100.1: interface 'ext' has no IPv4 address");
    expect_error(with(R"(addresses: ["2001:db8::2/64"])", R"(gateways: ["fe80::1", "fe80::2"])"), 6,
                 27, "fe80::2 is a second IPv6 one");
    expect_error(with(R"(addresses: ["2001:db8::2/64"])"
                      "\n    mtu: 1279"),
                 6, 10, "mtu 1279: an interface with IPv6 addresses needs at least 1280");
    expect_error(with(R"(addresses: ["fe80::2/64"])"), 5, 17,
                 "fe80::2 is link-local: lb derives its own link-local addresses");
    expect_error(with(R"(addresses: ["ff02::2/64"])"), 5, 17, "ff02::2 is a multicast address");
    expect_error(with(R"(addresses: ["::ffff:198.51.100.2/120"])"), 5, 17,
                 "IPv4-mapped address: write the IPv4 address itself");
    expect_error(with(R"(addresses: ["::1/64"])"), 5, 17, "not an address of a host");
    expect_error(with(R"(addresses: ["2001:db8::2/64"])", R"(gateways: ["ff02::1"])"), 6, 16,
                 "multicast");
}
