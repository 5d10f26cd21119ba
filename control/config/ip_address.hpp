// An address of either family, as the configuration, lbctl and the reports will name them (issue
// 23, docs/ipv6-plan.md step 1). IPv4 is held apart, not as ::ffff:a.b.c.d, so that an IPv4
// address and its IPv4-mapped IPv6 form are never equal. Text is RFC 5952's (lower case, the
// longest run of zero groups shortened, a single zero group never), and an endpoint with an
// IPv6 address is bracketed, "[2001:db8::1]:80", so that the port is never read as a group.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lb::control::config {

enum class Family : std::uint8_t { ipv4, ipv6 };

// "IPv4" or "IPv6", for messages.
const char* to_string(Family f);

struct IpAddress {
    Family family = Family::ipv4;
    // Network order. IPv4: the first four bytes, the rest zero (so that == and <=> compare
    // values, and hashing the whole array is stable).
    std::array<std::uint8_t, 16> bytes{};

    static IpAddress from_ipv4(std::uint32_t host_order);
    static IpAddress from_ipv6(const std::array<std::uint8_t, 16>& network_order);
    bool is_ipv4() const { return family == Family::ipv4; }
    // The IPv4 address in host order (0 for an IPv6 address).
    std::uint32_t ipv4() const;
    // Bits in the address: 32 or 128.
    unsigned width() const { return is_ipv4() ? 32 : 128; }

    bool operator==(const IpAddress&) const = default;
    auto operator<=>(const IpAddress&) const = default;
};

// Kinds an address may be that the configuration refuses or treats apart.
bool is_unspecified(const IpAddress& a); // 0.0.0.0, ::
bool is_loopback(const IpAddress& a);    // 127/8, ::1
bool is_multicast(const IpAddress& a);   // 224/4, ff00::/8
bool is_link_local(const IpAddress& a);  // 169.254/16, fe80::/10
bool is_ipv4_mapped(const IpAddress& a); // ::ffff:0:0/96

// Why an IPv6 address cannot name one host on a link or beyond (unspecified, loopback, multicast,
// IPv4-mapped; link-local unless `link_local_ok`, as for a next hop whose interface says which
// link), or nullopt. IPv4 addresses keep the rules they had: always nullopt.
std::optional<std::string> unicast_address_error(const IpAddress& a, bool link_local_ok);

// fe80::/64 with the modified EUI-64 interface identifier of `mac` (RFC 4291 appendix A): the
// node's link-local address on a port, the same in the worker and on the kernel's side.
IpAddress eui64_link_local(const std::array<std::uint8_t, 6>& mac);

// The first `length` bits of `a`, the rest zero (`length` beyond the width keeps every bit).
IpAddress masked(const IpAddress& a, unsigned length);

struct IpPrefix {
    IpAddress address; // as written: the interface's own address, not the network's
    std::uint8_t length = 0;
    bool contains(const IpAddress& a) const;
    bool operator==(const IpPrefix&) const = default;
};

// Each returns std::nullopt and fills `error` with words a user can act on.
// "198.51.100.2" or "2001:db8::2" (no zone index such as %eth0, no brackets).
std::optional<IpAddress> parse_ip_address(std::string_view text, std::string& error);
// "198.51.100.2/24" (0..32) or "2001:db8::2/64" (0..128).
std::optional<IpPrefix> parse_ip_prefix(std::string_view text, std::string& error);

struct Endpoint {
    IpAddress address;
    std::optional<std::uint16_t> port;
    bool operator==(const Endpoint&) const = default;
};
// "198.51.100.2", "198.51.100.2:80", "2001:db8::2" (an address alone: without brackets a
// trailing ":80" is a group), "[2001:db8::2]" or "[2001:db8::2]:80". Port 0 is refused.
std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& error);

std::string format_ip(const IpAddress& a);
// "198.51.100.2:80", "[2001:db8::2]:80".
std::string format_endpoint(const IpAddress& a, std::uint16_t port);

} // namespace lb::control::config
