// Parsers for the scalar types the configuration uses. Each returns std::nullopt and fills
// `error` with a message a user can act on when the text does not parse.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "control/config/model.hpp"

namespace lb::control::config {

std::optional<std::uint32_t> parse_ipv4(std::string_view text, std::string& error);
// "198.51.100.2/24": address and prefix length.
std::optional<std::pair<std::uint32_t, std::uint8_t>> parse_ipv4_prefix(std::string_view text,
                                                                        std::string& error);
// A dotted netmask with contiguous ones: 255.255.255.0 is one, 255.0.255.0 is not.
std::optional<std::uint32_t> parse_netmask(std::string_view text, std::string& error);
// "300s", "100ms", "5m", "1h", or a sum of them such as "1m30s".
std::optional<Milliseconds> parse_duration(std::string_view text, std::string& error);
// "10000-10100" or "21".
std::optional<std::pair<std::uint16_t, std::uint16_t>> parse_port_range(std::string_view text,
                                                                        std::string& error);
std::optional<std::uint64_t> parse_unsigned(std::string_view text, std::uint64_t max,
                                            std::string& error);

std::string format_ipv4(std::uint32_t address);
std::string format_duration(Milliseconds d);

} // namespace lb::control::config
