#include "lb/admin_request.hpp"

#include <charconv>

#include <fmt/format.h>

namespace lb::app {

const std::string& admin_usage() {
    static const std::string text = [] {
        std::string out = "commands:\n"
                          "  services                             services with their connections\n"
                          "  real-servers [SERVICE]               real servers, weights, health "
                          "and traffic\n"
                          "  connections [--service S] [--limit N]\n"
                          "  set-weight SERVICE SERVER WEIGHT     SERVER is ADDRESS or "
                          "ADDRESS:PORT; 0..65535\n"
                          "  drain SERVICE SERVER                 weight 0: no new connections, "
                          "established go on\n"
                          "  reload                               re-read the configuration file\n"
                          "  stats                                every counter, one per line "
                          "(JSON: the stats file)\n";
        for (const ModuleCommand& c : module_commands())
            out += fmt::format("  {:<36} {}\n", c.usage, c.help);
        return out;
    }();
    return text;
}

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
};

const ModuleCommand* module_command_named(std::string_view name) {
    for (const ModuleCommand& c : module_commands())
        if (name == c.name)
            return &c;
    return nullptr;
}

std::string command_names() {
    std::string out;
    for (const auto& s : syntaxes)
        out += std::string(out.empty() ? "" : ", ") + s.name;
    for (const ModuleCommand& c : module_commands())
        out += std::string(", ") + c.name;
    return out;
}

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
    Syntax syntax{};
    bool known = false;
    for (const auto& s : syntaxes)
        if (rest.front() == s.name) {
            syntax = s;
            known = true;
        }
    if (const ModuleCommand* m = module_command_named(rest.front())) {
        syntax = {m->name, Command::module, m->min_args, m->max_args, m->usage};
        r.module = m;
        known = true;
    }
    if (!known)
        return {std::nullopt,
                fmt::format("unknown command '{}' ({})", rest.front(), command_names())};
    r.command = syntax.command;
    r.args.assign(rest.begin() + 1, rest.end());
    std::string error;
    if (r.args.size() < syntax.min_args || r.args.size() > syntax.max_args)
        error = "wrong number of arguments";
    else if (r.command == Command::connections)
        error = connections_error(r.args);
    else if (r.module && r.module->flag && !r.args.empty() && r.args[0] != r.module->flag)
        error = fmt::format("unexpected '{}'", r.args[0]);
    if (!error.empty())
        return {std::nullopt, fmt::format("{}: {}", syntax.usage, error)};
    return {std::move(r), {}};
}

} // namespace

bool AdminRequest::changes_state() const {
    return command == Command::reload || command == Command::set_weight ||
           command == Command::drain || (module && module->changes_state);
}

bool AdminRequest::is_module_command(std::string_view name) const {
    return module && name == module->name;
}

std::string AdminRequest::line() const {
    std::string out = json ? "--json " : "";
    if (module)
        out += module->name;
    else
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
