// VRRP advertisements on the wire: version 3 (RFC 5798, IPv4; intervals in centiseconds,
// checksum over the IPv4 pseudo-header) and version 2 (RFC 3768; intervals in seconds, simple
// password authentication as keepalived's `auth_type PASS`). Pure encoding and validation:
// no sockets, no state. Addresses in host order.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace lb::control::vrrp {

constexpr std::uint8_t ip_protocol = 112;
constexpr std::uint32_t multicast_group = 0xe0000012; // 224.0.0.18
constexpr std::uint8_t required_ttl = 255;

struct Message {
    std::uint8_t version = 3;
    std::uint8_t vrid = 1;
    std::uint8_t priority = 100;
    std::uint16_t interval_centiseconds = 100; // v2: seconds × 100
    std::vector<std::uint32_t> addresses;
    std::string password; // v2 PASS authentication (up to 8 bytes); empty: none
};

// Why an advertisement was discarded (each is counted, none changes any state).
enum class Discard : std::uint8_t {
    truncated,
    bad_version,
    bad_type,
    bad_checksum,
    bad_ttl,
    wrong_vrid,
    bad_authentication,
    bad_address_count,
    wrong_interval, // v2 only: RFC 3768 requires the same interval on every router
    not_a_peer,
};
const char* to_string(Discard d);

// The Internet checksum (RFC 1071) of `n` bytes: what the IPv4 header and VRRP both carry.
std::uint16_t internet_checksum(const std::uint8_t* p, std::size_t n);

// The VRRP message (the IPv4 payload), checksummed for `source` → `destination`.
std::vector<std::uint8_t> encode(const Message& m, std::uint32_t source, std::uint32_t destination);

struct Expectation {
    std::uint8_t version = 3;
    std::uint8_t vrid = 1;
    std::string password;                      // v2
    std::uint16_t interval_centiseconds = 100; // checked in v2
    // How many virtual addresses this router has; a non-owner's advertisement listing another
    // number is dropped (RFC 5798 section 7.1: a misconfiguration). 0: not checked.
    std::size_t address_count = 0;
};

// Validates and decodes a received advertisement; `ttl` is the IPv4 header's.
std::variant<Message, Discard> decode(const std::uint8_t* data, std::size_t length,
                                      std::uint32_t source, std::uint32_t destination,
                                      std::uint8_t ttl, const Expectation& expected);

} // namespace lb::control::vrrp
