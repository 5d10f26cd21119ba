// Addresses of either family (control/config/ip_address): parsing with errors a user can act on,
// RFC 5952's text, bracketed endpoints, prefixes and the kinds of address the configuration
// treats apart. The first brick of IPv6 (docs/ipv6-plan.md, step 1).
#include <catch2/catch.hpp>

#include "control/config/ip_address.hpp"

using namespace lb::control::config;

namespace {

IpAddress ip(const char* text) {
    std::string error;
    const auto a = parse_ip_address(text, error);
    INFO(text << ": " << error);
    REQUIRE(a);
    return *a;
}

std::string refusal(const char* text) {
    std::string error;
    CHECK_FALSE(parse_ip_address(text, error));
    return error;
}

} // namespace

TEST_CASE("ip address: IPv4 and IPv6 parse, and IPv4 is never its mapped IPv6 form") {
    const IpAddress v4 = ip("198.51.100.2");
    CHECK(v4.is_ipv4());
    CHECK(v4.ipv4() == 0xc6336402);
    CHECK(v4 == IpAddress::from_ipv4(0xc6336402));
    CHECK(v4.width() == 32);
    const IpAddress v6 = ip("2001:DB8::2");
    CHECK_FALSE(v6.is_ipv4());
    CHECK(v6.width() == 128);
    CHECK(v6.bytes[0] == 0x20);
    CHECK(v6.bytes[1] == 0x01);
    CHECK(v6.bytes[15] == 2);
    CHECK(v6.ipv4() == 0);
    const IpAddress mapped = ip("::ffff:198.51.100.2");
    CHECK(is_ipv4_mapped(mapped));
    CHECK(mapped != v4);
    CHECK(v4 < v6); // families order first: sorted lists put IPv4 before IPv6
}

TEST_CASE("ip address: RFC 5952 text, whatever was written") {
    for (const auto& [written, canonical] : std::vector<std::pair<const char*, const char*>>{
             {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
             {"2001:0db8::0001", "2001:db8::1"},
             {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"}, // one zero group stays
             {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},          // the longest run shortens
             {"::", "::"},
             {"::1", "::1"},
             {"fe80::1", "fe80::1"},
             {"198.51.100.2", "198.51.100.2"}}) {
        INFO(written);
        CHECK(format_ip(ip(written)) == canonical);
    }
}

TEST_CASE("ip address: what is refused, and why") {
    CHECK_THAT(refusal("fe80::1%eth0"), Catch::Contains("zone index"));
    CHECK_THAT(refusal("[2001:db8::1]"), Catch::Contains("without brackets"));
    CHECK_THAT(refusal("2001:db8::g"), Catch::Contains("not an IPv6 address"));
    CHECK_THAT(refusal("2001:db8:1:2:3:4:5:6:7"), Catch::Contains("not an IPv6 address"));
    CHECK_THAT(refusal("1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:18:19:20:21:22:23"),
               Catch::Contains("not an IPv6 address"));
    // Digits and dots are meant as IPv4: said what is wrong with them as such.
    CHECK_THAT(refusal("198.51.100"), Catch::Contains("not an IPv4 address (expected a.b.c.d)"));
    CHECK_THAT(refusal("lb.example"), Catch::Contains("a.b.c.d or an IPv6 address"));
    CHECK_THAT(refusal(""), Catch::Contains("not an IP address"));
}

TEST_CASE("ip address: kinds of address") {
    CHECK(is_unspecified(ip("0.0.0.0")));
    CHECK(is_unspecified(ip("::")));
    CHECK_FALSE(is_unspecified(ip("::1")));
    CHECK(is_loopback(ip("127.0.0.5")));
    CHECK(is_loopback(ip("::1")));
    CHECK_FALSE(is_loopback(ip("::2")));
    CHECK(is_multicast(ip("224.0.0.18")));
    CHECK(is_multicast(ip("ff02::12")));
    CHECK_FALSE(is_multicast(ip("fe80::1")));
    CHECK(is_link_local(ip("169.254.1.1")));
    CHECK(is_link_local(ip("fe80::1")));
    CHECK(is_link_local(ip("febf::1")));
    CHECK_FALSE(is_link_local(ip("fec0::1")));
    CHECK_FALSE(is_ipv4_mapped(ip("::198.51.100.2"))); // the deprecated IPv4-compatible form
}

TEST_CASE("ip prefix: lengths by family, masking and containment") {
    std::string error;
    const auto v6 = parse_ip_prefix("2001:db8:100::2/64", error);
    REQUIRE(v6);
    CHECK(v6->length == 64);
    CHECK(format_ip(v6->address) == "2001:db8:100::2"); // the interface's own address, kept
    CHECK(v6->contains(ip("2001:db8:100::ffff")));
    CHECK_FALSE(v6->contains(ip("2001:db8:101::2")));
    CHECK_FALSE(v6->contains(ip("198.51.100.2"))); // never across families
    const auto v4 = parse_ip_prefix("198.51.100.2/24", error);
    REQUIRE(v4);
    CHECK(v4->contains(ip("198.51.100.200")));
    CHECK_FALSE(v4->contains(ip("198.51.101.2")));
    CHECK(format_ip(masked(ip("2001:db8:abcd:12ff::1"), 52)) == "2001:db8:abcd:1000::");
    CHECK(format_ip(masked(ip("198.51.100.77"), 25)) == "198.51.100.0");
    CHECK(masked(ip("2001:db8::1"), 128) == ip("2001:db8::1"));
    CHECK(masked(ip("2001:db8::1"), 0) == ip("::"));
    for (const char* bad : {"198.51.100.2/33", "2001:db8::2/129", "2001:db8::2", "2001:db8::2/",
                            "2001:db8::2/6x", "198.51.100.2/-1"}) {
        INFO(bad);
        error.clear();
        CHECK_FALSE(parse_ip_prefix(bad, error));
        CHECK_FALSE(error.empty());
    }
    error.clear();
    parse_ip_prefix("2001:db8::2/129", error);
    CHECK_THAT(error, Catch::Contains("0..128"));
}

TEST_CASE("endpoint: brackets around IPv6 with a port, never a port read as a group") {
    std::string error;
    const auto check = [&](const char* text, const char* address, std::optional<int> port) {
        INFO(text);
        const auto e = parse_endpoint(text, error);
        REQUIRE(e);
        CHECK(format_ip(e->address) == address);
        CHECK(e->port == (port ? std::optional<std::uint16_t>(*port) : std::nullopt));
    };
    check("198.51.100.2", "198.51.100.2", std::nullopt);
    check("198.51.100.2:80", "198.51.100.2", 80);
    check("2001:db8::2", "2001:db8::2", std::nullopt);
    check("2001:db8::80", "2001:db8::80", std::nullopt); // a group, not a port
    check("[2001:db8::2]", "2001:db8::2", std::nullopt);
    check("[2001:db8::2]:80", "2001:db8::2", 80);
    for (const char* bad :
         {"[2001:db8::2", "[2001:db8::2]80", "[198.51.100.2]:80", "[2001:db8::2]:0",
          "[2001:db8::2]:65536", "198.51.100.2:", "198.51.100.2:http"}) {
        INFO(bad);
        error.clear();
        CHECK_FALSE(parse_endpoint(bad, error));
        CHECK_FALSE(error.empty());
    }
    CHECK(format_endpoint(ip("2001:db8::1"), 80) == "[2001:db8::1]:80");
    CHECK(format_endpoint(ip("198.51.100.1"), 80) == "198.51.100.1:80");
}
