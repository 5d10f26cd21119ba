// An lbctl request, parsed once: lbctl parses its arguments with it (a usage error never reaches
// lb, and exits 2), and lb parses the request line with it again (an older or newer lbctl, or
// socat by hand, gets the same answer). Everything after the parse looks at `command`, never at
// the text: "--json reload" and "reload --json" are one request.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lb::app {

enum class Command {
    services,
    real_servers,
    connections,
    set_weight,
    drain,
    reload,
    stats,
    vrrp,
    replication,
    bgp,
    drain_node
};

struct AdminRequest {
    Command command = Command::services;
    std::vector<std::string> args; // the command's own words, in order
    bool json = false;

    // Reload, set-weight and drain change the running state: lb logs them.
    bool changes_state() const;
    // The request as one line (the wire format, and what lb logs): "--json" first if set.
    std::string line() const;
};

struct ParsedRequest {
    std::optional<AdminRequest> request;
    std::string usage_error; // when !request: what is wrong, for "usage: ..." answers
    bool json = false;       // "--json" was among the words: the usage error is JSON too
};

// `words`: the command, its arguments and "--json" anywhere.
ParsedRequest parse_admin_request(const std::vector<std::string>& words);
// A request line as lbctl sends it: words separated by spaces.
ParsedRequest parse_admin_request_line(std::string_view line);

// The command list with each one's arguments, for usage messages.
extern const char* const admin_usage;

} // namespace lb::app
