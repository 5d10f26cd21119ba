#include "control/config/value_parsers.hpp"

#include <arpa/inet.h>

#include <charconv>

#include <fmt/format.h>

namespace lb::control::config {

namespace {

bool parse_decimal(std::string_view text, std::uint64_t& out) {
    if (text.empty() || text.size() > 19)
        return false;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc{} && ptr == text.data() + text.size();
}

// Text an IPv6 address is written as: said so, rather than "not a.b.c.d", where only IPv4 goes.
bool is_ipv6_text(std::string_view text) {
    if (text.size() > 45 || text.find(':') == std::string_view::npos)
        return false;
    const std::string copy(text);
    in6_addr ignored;
    return inet_pton(AF_INET6, copy.c_str(), &ignored) == 1;
}

} // namespace

std::optional<std::uint64_t> parse_unsigned(std::string_view text, std::uint64_t max,
                                            std::string& error) {
    std::uint64_t v = 0;
    if (!parse_decimal(text, v)) {
        error = fmt::format("'{}' is not a non-negative integer", text);
        return std::nullopt;
    }
    if (v > max) {
        error = fmt::format("{} is out of range (0..{})", v, max);
        return std::nullopt;
    }
    return v;
}

std::optional<std::uint32_t> parse_ipv4(std::string_view text, std::string& error) {
    if (is_ipv6_text(text)) {
        error = fmt::format("'{}' is an IPv6 address; an IPv4 address is needed here", text);
        return std::nullopt;
    }
    std::uint32_t result = 0;
    std::string_view rest = text;
    for (int i = 0; i < 4; ++i) {
        auto dot = rest.find('.');
        if ((i < 3) != (dot != std::string_view::npos)) {
            error = fmt::format("'{}' is not an IPv4 address (expected a.b.c.d)", text);
            return std::nullopt;
        }
        std::string_view part = rest.substr(0, dot);
        std::uint64_t octet = 0;
        if (part.size() > 3 || !parse_decimal(part, octet) || octet > 255) {
            error = fmt::format("'{}' is not an IPv4 address (expected a.b.c.d)", text);
            return std::nullopt;
        }
        result = (result << 8) | static_cast<std::uint32_t>(octet);
        rest = dot == std::string_view::npos ? std::string_view{} : rest.substr(dot + 1);
    }
    return result;
}

std::optional<std::pair<std::uint32_t, std::uint8_t>> parse_ipv4_prefix(std::string_view text,
                                                                        std::string& error) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos) {
        error = fmt::format("'{}' needs a prefix length, e.g. 198.51.100.2/24", text);
        return std::nullopt;
    }
    auto address = parse_ipv4(text.substr(0, slash), error);
    if (!address)
        return std::nullopt;
    std::uint64_t length = 0;
    if (!parse_decimal(text.substr(slash + 1), length) || length > 32) {
        error = fmt::format("'{}' has a bad prefix length (0..32)", text);
        return std::nullopt;
    }
    return std::pair{*address, static_cast<std::uint8_t>(length)};
}

std::optional<std::uint32_t> parse_netmask(std::string_view text, std::string& error) {
    auto mask = parse_ipv4(text, error);
    if (!mask)
        return std::nullopt;
    // Contiguous ones from the top: the complement plus one is a power of two (or zero).
    std::uint32_t inverted = ~*mask;
    if ((inverted & (inverted + 1)) != 0) {
        error = fmt::format("'{}' is not a netmask (its ones must be contiguous, e.g. "
                            "255.255.255.0)",
                            text);
        return std::nullopt;
    }
    return mask;
}

std::optional<Milliseconds> parse_duration(std::string_view text, std::string& error) {
    auto fail = [&] {
        error = fmt::format("'{}' is not a duration (use a number with ms, s, m or h, e.g. 300s)",
                            text);
        return std::nullopt;
    };
    if (text.empty())
        return fail();
    std::uint64_t total = 0;
    std::string_view rest = text;
    while (!rest.empty()) {
        std::size_t digits = 0;
        while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9')
            ++digits;
        std::uint64_t value = 0;
        if (digits == 0 || !parse_decimal(rest.substr(0, digits), value))
            return fail();
        rest.remove_prefix(digits);
        std::uint64_t unit_ms = 0;
        if (rest.starts_with("ms")) {
            unit_ms = 1;
            rest.remove_prefix(2);
        } else if (rest.starts_with("s")) {
            unit_ms = 1000;
            rest.remove_prefix(1);
        } else if (rest.starts_with("m")) {
            unit_ms = 60'000;
            rest.remove_prefix(1);
        } else if (rest.starts_with("h")) {
            unit_ms = 3'600'000;
            rest.remove_prefix(1);
        } else {
            return fail();
        }
        if (value > (std::uint64_t{1} << 40) / unit_ms)
            return fail();
        total += value * unit_ms;
    }
    // Timestamps in the dataplane are 32-bit milliseconds; keep every duration well inside.
    if (total > 0x7fffffffu) {
        error = fmt::format("'{}' is too long (at most 596h)", text);
        return std::nullopt;
    }
    return Milliseconds{total};
}

std::optional<std::pair<std::uint16_t, std::uint16_t>> parse_port_range(std::string_view text,
                                                                        std::string& error) {
    auto dash = text.find('-');
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    bool ok = dash == std::string_view::npos ? parse_decimal(text, first) && (last = first, true)
                                             : parse_decimal(text.substr(0, dash), first) &&
                                                   parse_decimal(text.substr(dash + 1), last);
    if (!ok) {
        error =
            fmt::format("'{}' is not a port or a port range (e.g. 80 or \"10000-10100\")", text);
        return std::nullopt;
    }
    if (first < 1 || first > 65535 || last < 1 || last > 65535) {
        error = fmt::format("port '{}' is out of range (1..65535)", text);
        return std::nullopt;
    }
    if (first > last) {
        error = fmt::format("port range '{}' is reversed (first must not exceed last)", text);
        return std::nullopt;
    }
    return std::pair{static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)};
}

std::string format_ipv4(std::uint32_t a) {
    return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

std::string format_duration(Milliseconds d) {
    auto ms = d.count();
    if (ms % 1000 != 0)
        return fmt::format("{}ms", ms);
    return fmt::format("{}s", ms / 1000);
}

} // namespace lb::control::config
