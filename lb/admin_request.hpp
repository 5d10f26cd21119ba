// An lbctl request, parsed once: lbctl parses its arguments with it (a usage error never reaches
// lb, and exits 2), and lb parses the request line with it again (an older or newer lbctl, or
// socat by hand, gets the same answer). Everything after the parse looks at `command`, never at
// the text: "--json reload" and "reload --json" are one request.
#pragma once

#include <cstddef>
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
    module // a feature module's command (AdminRequest::module names it)
};

// An lbctl command that a feature module answers: its view, or an action of its own. Each
// module declares its commands in its folder (modules/*/commands.hpp); lb/module_commands.cpp
// lists them, one line per module, for lbctl and lb alike.
struct ModuleCommand {
    const char* module; // the module that answers it (ModuleKind::name, lb/module_list.cpp)
    const char* name;   // the word lbctl takes
    std::size_t min_args, max_args;
    const char* usage; // its syntax, for usage errors: "drain-node [--undo]"
    const char* help;  // one line, for lbctl's command list
    const char* flag;  // the only argument it takes, if any ("--undo"); nullptr: none checked
    // A view answers from the module's published report, refreshed just before, also when the
    // module is not configured (it says so); any other command needs the module running.
    bool view;
    bool changes_state; // lb logs it
    // For a command that is not a view: why it cannot be answered without the module.
    const char* without_module;
};

// Every module's commands (lb/module_commands.cpp).
const std::vector<ModuleCommand>& module_commands();

struct AdminRequest {
    Command command = Command::services;
    const ModuleCommand* module = nullptr; // with Command::module
    std::vector<std::string> args;         // the command's own words, in order
    bool json = false;

    // Reload, set-weight, drain and a module's actions change the running state: lb logs them.
    bool changes_state() const;
    // Whether this is `name`, the module command (e.g. "drain-node").
    bool is_module_command(std::string_view name) const;
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
const std::string& admin_usage();

} // namespace lb::app
