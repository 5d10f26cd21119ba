#include "lb/admin_commands.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <rte_byteorder.h>

#include "control/config/value_parsers.hpp"
#include "control/json_text.hpp"
#include "control/printable.hpp"
#include "lb/module.hpp"
#include "lb/stats_table.hpp"

namespace lb::app {

using control::AdminAnswer;
using control::Json;
using control::json_text;
using control::printable;
using control::config::format_ipv4;

namespace {

using Request = AdminRequest;

std::string ports_text(const control::config::Service& s) {
    std::string out;
    for (const auto& p : s.ports)
        out +=
            (out.empty() ? "" : ",") +
            (p.first == p.last ? std::to_string(p.first) : fmt::format("{}-{}", p.first, p.last));
    return out;
}

AdminAnswer services(Balancer& b, const Request& r) {
    const auto& cfg = b.config();
    const auto view = b.stats_view();
    std::string table =
        fmt::format("{:<16} {:<16} {:<5} {:<18} {:<5} {:<4} {:>7} {:>7} {:>11}\n", "SERVICE", "VIP",
                    "PROTO", "PORTS", "SCHED", "FWD", "SERVERS", "ACTIVE", "CONNECTIONS");
    Json json = Json::array();
    // The view lists the configuration's services in its order (control/stats_view).
    for (std::size_t i = 0; i < cfg.services.size() && i < view.services.size(); ++i) {
        const auto& s = cfg.services[i];
        const auto& counted = view.services[i];
        table +=
            fmt::format("{:<16} {:<16} {:<5} {:<18} {:<5} {:<4} {:>7} {:>7} {:>11}\n", s.name,
                        control::config::format_ip(s.vip), control::config::to_string(s.protocol),
                        ports_text(s), control::config::to_string(s.scheduler),
                        control::config::to_string(s.forwarding), s.real_servers.size(),
                        counted.connections_active, counted.traffic.connections);
        json.push_back({{"name", s.name},
                        {"vip", control::config::format_ip(s.vip)},
                        {"protocol", control::config::to_string(s.protocol)},
                        {"ports", ports_text(s)},
                        {"scheduler", control::config::to_string(s.scheduler)},
                        {"forwarding", control::config::to_string(s.forwarding)},
                        {"real_servers", s.real_servers.size()},
                        {"connections_active", counted.connections_active},
                        {"connections_total", counted.traffic.connections}});
    }
    return {true, r.json ? json_text(json) : table};
}

AdminAnswer real_servers(Balancer& b, const Request& r) {
    const std::string only = r.args.empty() ? "" : r.args[0];
    const auto view = b.stats_view();
    if (!only.empty() && std::none_of(view.services.begin(), view.services.end(),
                                      [&](const auto& s) { return s.name == only; }))
        return {false, fmt::format("no service '{}'", only)};
    std::string table =
        fmt::format("{:<16} {:<22} {:>6} {:>7} {:>11} {:>12} {:>12}  {}\n", "SERVICE", "SERVER",
                    "WEIGHT", "ACTIVE", "CONNECTIONS", "PACKETS_IN", "PACKETS_OUT", "HEALTH");
    Json json = Json::array();
    for (const auto& s : view.services) {
        if (!only.empty() && s.name != only)
            continue;
        for (const auto& rs : s.real_servers) {
            const auto& reason = rs.health_reason;
            table +=
                fmt::format("{:<16} {:<22} {:>6} {:>7} {:>11} {:>12} {:>12}  {}{}\n", s.name,
                            rs.server, rs.configured_weight, rs.connections_active,
                            rs.traffic.connections, rs.traffic.packets_in, rs.traffic.packets_out,
                            rs.health, reason.empty() ? "" : " (" + printable(reason) + ")");
            json.push_back({{"service", s.name},
                            {"server", rs.server},
                            {"weight", rs.configured_weight},
                            {"connections_active", rs.connections_active},
                            {"connections_total", rs.traffic.connections},
                            {"packets_in_total", rs.traffic.packets_in},
                            {"packets_out_total", rs.traffic.packets_out},
                            {"health", rs.health},
                            {"health_reason", reason}});
        }
    }
    return {true, r.json ? json_text(json) : table};
}

AdminAnswer connections(Balancer& b, const Request& r) {
    std::string only;
    std::uint64_t limit = 100;
    // The parser checked the options' shape (lb/admin_request).
    for (std::size_t i = 0; i + 1 < r.args.size(); i += 2) {
        if (r.args[i] == "--service") {
            only = r.args[i + 1];
        } else {
            std::string error;
            limit =
                control::config::parse_unsigned(r.args[i + 1], 1'000'000, error).value_or(limit);
        }
    }
    std::optional<std::uint16_t> service_id;
    if (!only.empty()) {
        service_id = b.registry().find_service(only);
        const bool configured =
            std::any_of(b.config().services.begin(), b.config().services.end(),
                        [&](const control::config::Service& s) { return s.name == only; });
        if (!service_id || !configured)
            return {false, fmt::format("no service '{}'", only)};
    }
    const auto& table_ref = *b.context().connections;
    std::string table = fmt::format("{:<22} {:<22} {:<22} {:<13} {}\n", "CLIENT", "VIRTUAL",
                                    "SERVER", "STATE", "SERVICE");
    Json json = Json::array();
    std::uint64_t shown = 0;
    for (std::uint32_t i = 0; i < table_ref.capacity() && shown < limit; ++i) {
        const auto& c = table_ref.at(i);
        if (!c.live.load(std::memory_order_acquire) || (c.flags & dataplane::conn_expectation))
            continue;
        if (service_id && c.service != *service_id)
            continue;
        const auto endpoint = [](std::uint32_t a, std::uint16_t p) {
            return fmt::format("{}:{}", format_ipv4(rte_be_to_cpu_32(a)), rte_be_to_cpu_16(p));
        };
        std::string name = "?";
        for (const auto& s : b.config().services)
            if (b.registry().find_service(s.name) == c.service)
                name = s.name;
        const char* state = dataplane::tcp_state_name(c.state.load(std::memory_order_relaxed));
        table += fmt::format(
            "{:<22} {:<22} {:<22} {:<13} {}\n", endpoint(c.key.src_ip, c.key.src_port),
            endpoint(c.key.dst_ip, c.key.dst_port), endpoint(c.rs_address, c.rs_port), state, name);
        json.push_back({{"client", endpoint(c.key.src_ip, c.key.src_port)},
                        {"virtual", endpoint(c.key.dst_ip, c.key.dst_port)},
                        {"server", endpoint(c.rs_address, c.rs_port)},
                        {"state", state},
                        {"service", name}});
        ++shown;
    }
    return {true, r.json ? json_text(json) : table};
}

AdminAnswer outcome(const ChangeOutcome& o, bool json) {
    if (json)
        return {o.applied, json_text({{"applied", o.applied}, {"messages", o.messages}})};
    std::string text;
    for (const auto& m : o.messages)
        text += m + "\n";
    return {o.applied, text};
}

} // namespace

// Every command but reload, which is answered once its reading thread is done.
AdminAnswer answer_now(Balancer& b, const Request& r) {
    switch (r.command) {
    case Command::services:
        return services(b, r);
    case Command::real_servers:
        return real_servers(b, r);
    case Command::connections:
        return connections(b, r);
    case Command::stats:
        return {true, r.json ? b.stats_json() : stats_table(b.stats())};
    // A module's view: the control loop had every module report just before (lb/control_loop),
    // so two views answer from the same moment, which each names (as_of).
    case Command::module:
        if (!r.module->view) // a running module answered it before (lb/control_loop)
            return error_answer(fmt::format("{} needs the {} section: {}", r.module->name,
                                            r.module->module, r.module->without_module),
                                r.json, false);
        if (const ModuleKind* kind = module_named(r.module->module); kind && kind->view)
            return kind->view(b, r);
        break;
    case Command::drain:
        return outcome(b.set_weight(r.args[0], r.args[1], 0), r.json);
    case Command::set_weight: {
        std::string error;
        const auto weight = control::config::parse_unsigned(r.args[2], 65535, error);
        if (!weight)
            return {false, fmt::format("weight: {}", error)};
        return outcome(b.set_weight(r.args[0], r.args[1], static_cast<std::uint32_t>(*weight)),
                       r.json);
    }
    case Command::reload:
        break;
    }
    return {false, "reload is answered by the control loop"};
}

AdminAnswer error_answer(const std::string& message, bool json, bool usage) {
    return {false, json ? json_text({{"error", message}}) : message, usage};
}

void handle_admin_request(Balancer& b, ConfigReloader& reloader, const AdminRequest& r,
                          control::AdminSocket::Respond respond) {
    if (r.command == Command::reload) {
        reloader.request(
            [respond, json = r.json](const ChangeOutcome& o) { respond(outcome(o, json)); });
        return;
    }
    AdminAnswer answer = answer_now(b, r);
    // Refusals are plain text where they are made; a script asked for JSON.
    if (!answer.ok && r.json && !answer.body.starts_with('{'))
        answer = error_answer(answer.body, true, false);
    respond(std::move(answer));
}

} // namespace lb::app
