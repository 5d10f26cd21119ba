// The FTP control-channel lines the NAT helper understands, parsed from raw bytes (RFC 959,
// RFC 2428): replies 227 (PASV) and 229 (EPSV) from the server, commands PORT and EPRT from
// the client. Pure functions: no packets, no state. Addresses and ports are in host order.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace lb::dataplane::ftp {

// Lines longer than this are never interpreted (and never held back).
constexpr std::size_t max_line = 512;

struct Endpoint {
    std::uint32_t address = 0;
    std::uint16_t port = 0;
};

// "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)": the endpoint, and where the six numbers
// stand in the line, so that the address can be replaced.
struct PassiveReply {
    Endpoint endpoint;
    std::size_t numbers_begin = 0;
    std::size_t numbers_end = 0; // one past the last digit of p2
};

enum class Kind { none, pasv_reply, epsv_reply, port_command, eprt_command };

// What a complete line (without its CRLF) is, from its first characters.
Kind classify_server_line(std::string_view line);
Kind classify_client_line(std::string_view line);

// Could a line beginning with `prefix` (not yet complete) turn out to be one we rewrite or
// learn from? Used to hold back a line split across segments.
bool may_become_interesting(std::string_view prefix, bool from_server);

std::optional<PassiveReply> parse_pasv_reply(std::string_view line);
std::optional<std::uint16_t> parse_epsv_reply(std::string_view line);
std::optional<Endpoint> parse_port_command(std::string_view line);
std::optional<Endpoint> parse_eprt_command(std::string_view line);

// Writes the 227 line with its address replaced by `address` (the port kept) into `out`
// (no allocation: this runs on a worker). Returns its length, or 0 if `capacity` is too small.
std::size_t rewrite_pasv_reply(std::string_view line, const PassiveReply& reply,
                               std::uint32_t address, char* out, std::size_t capacity);

} // namespace lb::dataplane::ftp
