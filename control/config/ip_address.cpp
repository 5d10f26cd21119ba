#include "control/config/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "control/config/value_parsers.hpp"

namespace lb::control::config {

const char* to_string(Family f) {
    return f == Family::ipv4 ? "IPv4" : "IPv6";
}

IpAddress IpAddress::from_ipv4(std::uint32_t host_order) {
    IpAddress a;
    a.family = Family::ipv4;
    a.bytes[0] = static_cast<std::uint8_t>(host_order >> 24);
    a.bytes[1] = static_cast<std::uint8_t>(host_order >> 16);
    a.bytes[2] = static_cast<std::uint8_t>(host_order >> 8);
    a.bytes[3] = static_cast<std::uint8_t>(host_order);
    return a;
}

IpAddress IpAddress::from_ipv6(const std::array<std::uint8_t, 16>& network_order) {
    IpAddress a;
    a.family = Family::ipv6;
    a.bytes = network_order;
    return a;
}

std::uint32_t IpAddress::ipv4() const {
    if (!is_ipv4())
        return 0;
    return std::uint32_t{bytes[0]} << 24 | std::uint32_t{bytes[1]} << 16 |
           std::uint32_t{bytes[2]} << 8 | bytes[3];
}

bool is_unspecified(const IpAddress& a) {
    return std::all_of(a.bytes.begin(), a.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

bool is_loopback(const IpAddress& a) {
    if (a.is_ipv4())
        return a.bytes[0] == 127;
    return std::all_of(a.bytes.begin(), a.bytes.end() - 1, [](std::uint8_t b) { return b == 0; }) &&
           a.bytes[15] == 1;
}

bool is_multicast(const IpAddress& a) {
    return a.is_ipv4() ? (a.bytes[0] & 0xf0) == 0xe0 : a.bytes[0] == 0xff;
}

bool is_link_local(const IpAddress& a) {
    return a.is_ipv4() ? a.bytes[0] == 169 && a.bytes[1] == 254
                       : a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;
}

bool is_ipv4_mapped(const IpAddress& a) {
    return !a.is_ipv4() &&
           std::all_of(a.bytes.begin(), a.bytes.begin() + 10,
                       [](std::uint8_t b) { return b == 0; }) &&
           a.bytes[10] == 0xff && a.bytes[11] == 0xff;
}

std::optional<std::string> unicast_address_error(const IpAddress& a, bool link_local_ok) {
    if (a.is_ipv4())
        return std::nullopt;
    if (is_unspecified(a) || is_loopback(a))
        return fmt::format("{} is not an address of a host on the network", format_ip(a));
    if (is_multicast(a))
        return fmt::format("{} is a multicast address", format_ip(a));
    if (is_ipv4_mapped(a))
        return fmt::format("{} is an IPv4-mapped address: write the IPv4 address itself",
                           format_ip(a));
    if (!link_local_ok && is_link_local(a))
        return fmt::format("{} is link-local: lb derives its own link-local addresses from the "
                           "port's MAC, and a VIP, server or node address needs a global or "
                           "unique local one",
                           format_ip(a));
    return std::nullopt;
}

IpAddress eui64_link_local(const std::array<std::uint8_t, 6>& mac) {
    std::array<std::uint8_t, 16> b{0xfe, 0x80};
    b[8] = mac[0] ^ 0x02; // the universal/local bit, inverted
    b[9] = mac[1];
    b[10] = mac[2];
    b[11] = 0xff;
    b[12] = 0xfe;
    b[13] = mac[3];
    b[14] = mac[4];
    b[15] = mac[5];
    return IpAddress::from_ipv6(b);
}

IpAddress masked(const IpAddress& a, unsigned length) {
    IpAddress out = a;
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned kept = length > 8 * i ? std::min(8u, length - 8 * i) : 0;
        out.bytes[i] &= static_cast<std::uint8_t>(0xff00u >> kept);
    }
    return out;
}

bool IpPrefix::contains(const IpAddress& a) const {
    return a.family == address.family && masked(a, length) == masked(address, length);
}

std::optional<IpAddress> parse_ip_address(std::string_view text, std::string& error) {
    if (text.find(':') == std::string_view::npos) {
        const auto v4 = parse_ipv4(text, error);
        // Digits and dots: meant as IPv4, and parse_ipv4 said what is wrong with it.
        if (!v4 && !text.empty() && text.find_first_not_of("0123456789.") == std::string_view::npos)
            return std::nullopt;
        if (!v4) {
            error = fmt::format("'{}' is not an IP address (expected a.b.c.d or an IPv6 address "
                                "such as 2001:db8::1)",
                                text);
            return std::nullopt;
        }
        return IpAddress::from_ipv4(*v4);
    }
    if (text.find('%') != std::string_view::npos) {
        error = fmt::format("'{}': a zone index (%...) has no meaning here: the interface says "
                            "where the address is",
                            text);
        return std::nullopt;
    }
    if (text.find_first_of("[]") != std::string_view::npos) {
        error = fmt::format("'{}': an address is written without brackets (brackets go around "
                            "an IPv6 address only with a port, [2001:db8::1]:80)",
                            text);
        return std::nullopt;
    }
    std::array<std::uint8_t, 16> bytes{};
    const std::string copy(text); // inet_pton needs the terminating zero
    if (text.size() > 45 || inet_pton(AF_INET6, copy.c_str(), bytes.data()) != 1) {
        error = fmt::format("'{}' is not an IPv6 address (e.g. 2001:db8::1)", text);
        return std::nullopt;
    }
    return IpAddress::from_ipv6(bytes);
}

std::optional<IpPrefix> parse_ip_prefix(std::string_view text, std::string& error) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) {
        error =
            fmt::format("'{}' needs a prefix length, e.g. 198.51.100.2/24 or 2001:db8::2/64", text);
        return std::nullopt;
    }
    const auto address = parse_ip_address(text.substr(0, slash), error);
    if (!address)
        return std::nullopt;
    const std::string_view digits = text.substr(slash + 1);
    unsigned length = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
        length > address->width()) {
        error = fmt::format("'{}' has a bad prefix length (0..{})", text, address->width());
        return std::nullopt;
    }
    return IpPrefix{*address, static_cast<std::uint8_t>(length)};
}

namespace {

std::optional<std::uint16_t> parse_port(std::string_view whole, std::string_view digits,
                                        std::string& error) {
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() || port == 0 ||
        port > 65535) {
        error = fmt::format("'{}' has a bad port (1..65535)", whole);
        return std::nullopt;
    }
    return static_cast<std::uint16_t>(port);
}

} // namespace

std::optional<Endpoint> parse_endpoint(std::string_view text, std::string& error) {
    Endpoint out;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            error = fmt::format("'{}' opens a bracket it does not close", text);
            return std::nullopt;
        }
        const auto address = parse_ip_address(text.substr(1, close - 1), error);
        if (!address)
            return std::nullopt;
        if (address->is_ipv4()) {
            error = fmt::format("'{}': brackets are for IPv6 addresses only", text);
            return std::nullopt;
        }
        out.address = *address;
        const std::string_view rest = text.substr(close + 1);
        if (rest.empty())
            return out;
        if (rest.front() != ':') {
            error = fmt::format("'{}': after ']' only ':PORT' may follow", text);
            return std::nullopt;
        }
        out.port = parse_port(text, rest.substr(1), error);
        if (!out.port)
            return std::nullopt;
        return out;
    }
    const auto colons = std::count(text.begin(), text.end(), ':');
    if (colons == 1) { // IPv4 with a port: an IPv6 address has at least two colons
        const auto colon = text.find(':');
        const auto address = parse_ip_address(text.substr(0, colon), error);
        if (!address)
            return std::nullopt;
        out.address = *address;
        out.port = parse_port(text, text.substr(colon + 1), error);
        if (!out.port)
            return std::nullopt;
        return out;
    }
    const auto address = parse_ip_address(text, error);
    if (!address)
        return std::nullopt;
    out.address = *address;
    return out;
}

std::string format_ip(const IpAddress& a) {
    if (a.is_ipv4())
        return format_ipv4(a.ipv4());
    char text[INET6_ADDRSTRLEN];
    // glibc's inet_ntop writes RFC 5952's form (lower case, the longest zero run shortened).
    if (!inet_ntop(AF_INET6, a.bytes.data(), text, sizeof(text)))
        return "?";
    return text;
}

std::string format_endpoint(const IpAddress& a, std::uint16_t port) {
    return a.is_ipv4() ? fmt::format("{}:{}", format_ip(a), port)
                       : fmt::format("[{}]:{}", format_ip(a), port);
}

} // namespace lb::control::config
