#include <catch2/catch.hpp>

#include "control/config/value_parsers.hpp"

using namespace lb::control::config;

TEST_CASE("durations accept ms, s, m, h and sums of them") {
    std::string e;
    CHECK(parse_duration("100ms", e) == Milliseconds{100});
    CHECK(parse_duration("300s", e) == Milliseconds{300'000});
    CHECK(parse_duration("5m", e) == Milliseconds{300'000});
    CHECK(parse_duration("2h", e) == Milliseconds{7'200'000});
    CHECK(parse_duration("1m30s", e) == Milliseconds{90'000});
    for (const char* bad : {"", "10", "s", "10x", "1.5s", "-1s", "10 s", "99999999999999h"}) {
        INFO(bad);
        CHECK_FALSE(parse_duration(bad, e));
    }
}

TEST_CASE("IPv4 addresses, prefixes and netmasks") {
    std::string e;
    CHECK(parse_ipv4("198.51.100.2", e) == 0xc6336402u);
    for (const char* bad : {"198.51.100", "198.51.100.2.1", "256.0.0.1", "a.b.c.d", "1..2.3", ""})
        CHECK_FALSE(parse_ipv4(bad, e));
    // Where only IPv4 goes (a BGP router ID), an IPv6 address is named as such.
    e.clear();
    CHECK_FALSE(parse_ipv4("2001:db8::100", e));
    CHECK_THAT(e, Catch::Contains("is an IPv6 address; an IPv4 address is needed here"));
    e.clear();
    CHECK_FALSE(parse_ipv4("198.51.100.2:80", e));
    CHECK_THAT(e, Catch::Contains("expected a.b.c.d"));
    auto p = parse_ipv4_prefix("203.0.113.1/24", e);
    REQUIRE(p);
    CHECK(p->second == 24);
    CHECK_FALSE(parse_ipv4_prefix("203.0.113.1", e));
    CHECK_FALSE(parse_ipv4_prefix("203.0.113.1/33", e));
    CHECK(parse_netmask("255.255.255.0", e) == 0xffffff00u);
    CHECK(parse_netmask("0.0.0.0", e) == 0u);
    CHECK(parse_netmask("255.255.255.255", e) == 0xffffffffu);
    CHECK_FALSE(parse_netmask("255.0.255.0", e));
    CHECK_FALSE(parse_netmask("0.255.255.255", e));
}

TEST_CASE("ports and port ranges") {
    std::string e;
    CHECK(parse_port_range("21", e) == std::pair<std::uint16_t, std::uint16_t>{21, 21});
    CHECK(parse_port_range("10000-10100", e) ==
          std::pair<std::uint16_t, std::uint16_t>{10000, 10100});
    for (const char* bad : {"0", "65536", "100-50", "1-", "-5", "a-b", ""})
        CHECK_FALSE(parse_port_range(bad, e));
}
