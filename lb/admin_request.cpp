#include "lb/admin_request.hpp"

#include <charconv>

#include <fmt/format.h>

namespace lb::app {

const char* const admin_usage =
    "commands:\n"
    "  services                             services with their connections\n"
    "  real-servers [SERVICE]               real servers, weights, health and traffic\n"
    "  connections [--service S] [--limit N]\n"
    "  set-weight SERVICE SERVER WEIGHT     SERVER is ADDRESS or ADDRESS:PORT; 0..65535\n"
    "  drain SERVICE SERVER                 weight 0: no new connections, established go on\n"
    "  reload                               re-read the configuration file\n"
    "  stats                                every counter, one per line (JSON: the stats file)\n"
    "  vrrp                                 VRRP instances: state, priority, master, why\n"
    "  replication                          session replication: peer, state, counters\n"
    "  bgp                                  VIPs announced over BGP and why, BIRD's sessions\n"
    "  drain-node [--undo]                  withdraw every VIP (established flows go on)\n";

namespace {

struct Syntax {
    const char* name;
    Command command;
    std::size_t min_args, max_args;
    const char* usage;
};

constexpr Syntax syntaxes[] = {
    {"services", Command::services, 0, 0, "services"},
    {"real-servers", Command::real_servers, 0, 1, "real-servers [SERVICE]"},
    {"connections", Command::connections, 0, 4, "connections [--service S] [--limit N]"},
    {"set-weight", Command::set_weight, 3, 3, "set-weight SERVICE SERVER WEIGHT"},
    {"drain", Command::drain, 2, 2, "drain SERVICE SERVER"},
    {"reload", Command::reload, 0, 0, "reload"},
    {"stats", Command::stats, 0, 0, "stats"},
    {"vrrp", Command::vrrp, 0, 0, "vrrp"},
    {"replication", Command::replication, 0, 0, "replication"},
    {"bgp", Command::bgp, 0, 0, "bgp"},
    {"drain-node", Command::drain_node, 0, 1, "drain-node [--undo]"},
};

// connections' options: each once at most, each with a value (a number for --limit).
std::string connections_error(const std::vector<std::string>& args) {
    bool service = false, limit = false;
    for (std::size_t i = 0; i < args.size(); i += 2) {
        const std::string& option = args[i];
        if (option != "--service" && option != "--limit")
            return fmt::format("unexpected '{}'", option);
        if (i + 1 == args.size())
            return fmt::format("{} needs a value", option);
        bool& seen = option == "--service" ? service : limit;
        if (seen)
            return fmt::format("{} given twice", option);
        seen = true;
        if (option == "--limit") {
            const std::string& v = args[i + 1];
            unsigned long n = 0;
            const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
            if (ec != std::errc{} || end != v.data() + v.size() || n == 0 || n > 1'000'000)
                return fmt::format("--limit needs a number from 1 to 1000000, not '{}'", v);
        }
    }
    return {};
}

ParsedRequest parse_words(const std::vector<std::string>& words) {
    AdminRequest r;
    std::vector<std::string> rest;
    for (const auto& w : words) {
        if (w == "--json")
            r.json = true;
        else
            rest.push_back(w);
    }
    if (rest.empty())
        return {std::nullopt, "no command"};
    const Syntax* syntax = nullptr;
    for (const auto& s : syntaxes)
        if (rest.front() == s.name)
            syntax = &s;
    if (!syntax)
        return {std::nullopt,
                fmt::format("unknown command '{}' (services, real-servers, connections, "
                            "set-weight, drain, reload, stats, vrrp, replication, bgp, drain-node)",
                            rest.front())};
    r.command = syntax->command;
    r.args.assign(rest.begin() + 1, rest.end());
    std::string error;
    if (r.args.size() < syntax->min_args || r.args.size() > syntax->max_args)
        error = "wrong number of arguments";
    else if (r.command == Command::connections)
        error = connections_error(r.args);
    else if (r.command == Command::drain_node && !r.args.empty() && r.args[0] != "--undo")
        error = fmt::format("unexpected '{}'", r.args[0]);
    if (!error.empty())
        return {std::nullopt, fmt::format("{}: {}", syntax->usage, error)};
    return {std::move(r), {}};
}

} // namespace

bool AdminRequest::changes_state() const {
    return command == Command::reload || command == Command::set_weight ||
           command == Command::drain || command == Command::drain_node;
}

std::string AdminRequest::line() const {
    std::string out = json ? "--json " : "";
    for (const auto& s : syntaxes)
        if (s.command == command)
            out += s.name;
    for (const auto& a : args)
        out += " " + a;
    return out;
}

ParsedRequest parse_admin_request(const std::vector<std::string>& words) {
    ParsedRequest parsed = parse_words(words);
    for (const auto& w : words)
        parsed.json = parsed.json || w == "--json";
    return parsed;
}

ParsedRequest parse_admin_request_line(std::string_view line) {
    std::vector<std::string> words;
    for (std::size_t i = 0; i < line.size();) {
        const std::size_t end = std::min(line.find_first_of(" \t", i), line.size());
        if (end > i)
            words.emplace_back(line.substr(i, end - i));
        i = end + 1;
    }
    return parse_admin_request(words);
}

} // namespace lb::app
