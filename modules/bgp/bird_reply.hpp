// BIRD's control-socket protocol, the reading side. BIRD answers each command with lines
// "CODE-text" (more follow), "CODE text" (the reply's last line) or " text" (continuing the
// previous code); "+text" lines are spontaneous and belong to no reply. Codes: 0xxx done,
// 1xxx table rows, 2xxx table headings, 8xxx run-time errors, 9xxx parse errors (BIRD's
// doc/reply_codes). The greeting on connecting is one reply, "0001 BIRD 2.0.12 ready.".
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lb::control::bgp {

struct BirdLine {
    int code = 0; // the code in effect (a continuation line carries its predecessor's)
    std::string text;
};

struct BirdReply {
    std::vector<BirdLine> lines;
    int code() const { return lines.empty() ? 0 : lines.back().code; } // the final line's
    bool error() const { return code() >= 8000; }
    std::string last_text() const { return lines.empty() ? "" : lines.back().text; }
};

// Takes one complete reply off the front of `buffer` (bytes as read from the socket), or
// nullopt while it is incomplete. Throws std::runtime_error on a line that is not BIRD's.
std::optional<BirdReply> take_bird_reply(std::string& buffer);

// A `configure` reply: whether the new configuration is in effect (0003 Reconfigured, 0004
// in progress, 0005 queued, 0018/0020 fine) and otherwise what BIRD said.
bool configure_succeeded(const BirdReply& reply);

// One row of `show protocols`.
struct ProtocolRow {
    std::string name, proto, table, state, since, info;
};
std::vector<ProtocolRow> parse_show_protocols(const BirdReply& reply);

// One row of `show bfd sessions`.
struct BfdRow {
    std::string address, interface, state;
};
std::vector<BfdRow> parse_show_bfd_sessions(const BirdReply& reply);

// `configure "PATH"` with PATH quoted for BIRD's parser. Throws std::invalid_argument on a
// path BIRD's string syntax cannot carry (a quote, a backslash, a newline).
std::string configure_command(const std::string& path);

} // namespace lb::control::bgp
