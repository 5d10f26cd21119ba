// An interface's addresses and gateways: the single `address`/`gateway` and the dual-stack
// lists `addresses`/`gateways` (issue 23's contract). Until IPv6 lands (docs/ipv6-plan.md), an
// IPv6 entry is refused where it is written, saying why.
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
    expect_error(with(R"(addresses: [198.51.100.2/24, "2001:db8:100::2/64"])"), 5, 34,
                 "IPv6 is not supported yet");
    expect_error(with("addresses: [198.51.100.2/24]", R"(gateways: [198.51.100.1, "2001:db8::1"])"),
                 6, 30, "IPv6 is not supported yet");
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
