#include "control/config/reload_plan.hpp"

#include <array>
#include <functional>
#include <stdexcept>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "control/config/loader.hpp"
#include "control/config/validator.hpp"
#include "modules/replication/reload_rule.hpp"

namespace lb::control::config {

namespace {

// Every top-level key of the configuration, and what a reload does with it. The structured
// bindings name every member: a member added to Config (or to Stats, which is split) stops this
// from compiling until it is given its rule here.
//   restart: node.name, admin.socket, dpdk, interfaces, tables, stats.listen, replication (but
//            for its keys): the EAL, the ports, the tables and the sockets are set up once,
//            before the workers start.
//   applied: services, timeouts, stats.file, stats.interval, vrrp: published as a new snapshot
//            (lb/balancer: apply_reload), then health checks and VRRP are reconfigured from it
//            (lb/control_loop); bgp: the BIRD configuration is written again and reloaded
//            (modules/bgp/driver), a section a reload brings starts it; replication's key_file and
//            previous_key_file: read again at every reload (ReloadReads::replication_keys) and
//            handed to the running replication (lb/control_loop), so that a key rotation needs
//            no restart.
constexpr std::array restart_only_names{"node.name", "admin.socket", "dpdk",       "interfaces",
                                        "tables",    "stats.listen", "replication"};

template <typename ConfigRef> auto restart_only_values(ConfigRef& c) {
    [[maybe_unused]] auto& [node_name, admin, dpdk, interfaces, services, timeouts, tables, stats,
                            vrrp, replication, bgp] = c;
    [[maybe_unused]] auto& [stats_file, stats_interval, stats_listen] = stats;
    auto values = std::make_tuple(std::ref(node_name), std::ref(admin), std::ref(dpdk),
                                  std::ref(interfaces), std::ref(tables), std::ref(stats_listen),
                                  replication::BesideKeys<decltype(replication)>{replication});
    static_assert(std::tuple_size_v<decltype(values)> == restart_only_names.size());
    return values;
}

ReloadPlan refused(std::vector<std::string> messages) {
    messages.push_back("the running configuration is unchanged");
    ReloadPlan plan;
    plan.messages = std::move(messages);
    return plan;
}

} // namespace

std::vector<std::string> restart_only_changes(const Config& running, const Config& next) {
    const auto before = restart_only_values(running);
    const auto after = restart_only_values(next);
    std::vector<std::string> changed;
    [&]<std::size_t... key>(std::index_sequence<key...>) {
        ((std::get<key>(before) == std::get<key>(after)
              ? void()
              : changed.push_back(restart_only_names[key])),
         ...);
    }
    (std::make_index_sequence<restart_only_names.size()>{});
    return changed;
}

ReloadPlan plan_reload(Config next, const Config& running, const std::string& path) {
    ReloadPlan plan;
    const auto kept = restart_only_changes(running, next);
    if (!kept.empty()) {
        for (const auto& key : kept)
            plan.messages.push_back(
                fmt::format("needs restart: {} (not applied; the running value is kept)", key));
        restart_only_values(next) = restart_only_values(running);
        // What was applied must still hold with the running values of the rest (a service
        // reaching its real servers through an interface the file adds, say).
        Diagnostics problems;
        validate_config(next, problems);
        if (!problems.empty()) {
            std::vector<std::string> messages;
            for (const auto& line : format_diagnostics(path, problems))
                messages.push_back("with the running values of what needs a restart: " + line);
            return refused(std::move(messages));
        }
    }
    if (next.replication) {
        try {
            plan.reads.replication_keys = read_replication_keys(*next.replication);
        } catch (const std::runtime_error& e) { // changed since the file was checked
            return refused({e.what(), "the running replication keys are kept"});
        }
    }
    plan.next = std::move(next);
    return plan;
}

ReloadPlan plan_reload(const std::string& path, const Config& running) {
    auto loaded = load_config_file(path);
    if (!loaded.config)
        return refused(format_diagnostics(path, loaded.diagnostics));
    return plan_reload(std::move(*loaded.config), running, path);
}

std::string refused_reload_log(std::string_view via, std::string_view messages) {
    std::string lines;
    while (!messages.empty()) {
        const std::size_t end = messages.find('\n');
        const std::string_view line = messages.substr(0, end);
        if (!line.empty())
            lines += fmt::format("lb: warning: {} refused: {}\n", via, line);
        if (end == std::string_view::npos)
            break;
        messages.remove_prefix(end + 1);
    }
    return lines;
}

} // namespace lb::control::config
