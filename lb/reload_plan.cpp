#include "lb/reload_plan.hpp"

#include <fmt/format.h>

#include "control/config/loader.hpp"
#include "control/config/validator.hpp"

namespace lb::app {

namespace {

// VRRP is read at start-up: instance numbers are the dataplane's ownership slots, and a peer
// would see a changed instance as a new router. Compared through their YAML-independent fields.
bool vrrp_differs(const control::config::Config& a, const control::config::Config& b) {
    auto same_instance = [](const control::config::VrrpInstance& x,
                            const control::config::VrrpInstance& y) {
        return x.name == y.name && x.interface == y.interface &&
               x.virtual_router_id == y.virtual_router_id && x.priority == y.priority &&
               x.advert_int == y.advert_int && x.version == y.version && x.preempt == y.preempt &&
               x.preempt_delay == y.preempt_delay && x.password == y.password &&
               x.unicast_peers == y.unicast_peers && x.unicast_source == y.unicast_source &&
               x.virtual_addresses == y.virtual_addresses && x.use_vmac == y.use_vmac;
    };
    if (a.vrrp.instances.size() != b.vrrp.instances.size() ||
        a.vrrp.notify_fifo != b.vrrp.notify_fifo ||
        a.vrrp.sync_groups.size() != b.vrrp.sync_groups.size() ||
        a.vrrp.scripts.size() != b.vrrp.scripts.size())
        return true;
    for (std::size_t i = 0; i < a.vrrp.instances.size(); ++i)
        if (!same_instance(a.vrrp.instances[i], b.vrrp.instances[i]))
            return true;
    return false;
}

// What a reload cannot change in a running process: names of the settings that differ.
std::vector<std::string> restart_only_changes(const control::config::Config& running,
                                              const control::config::Config& next) {
    std::vector<std::string> changed;
    if (running.dpdk.eal_args != next.dpdk.eal_args || running.dpdk.workers != next.dpdk.workers ||
        running.dpdk.idle_backoff != next.dpdk.idle_backoff)
        changed.push_back("dpdk");
    bool interfaces_same = running.interfaces.size() == next.interfaces.size();
    for (std::size_t i = 0; interfaces_same && i < running.interfaces.size(); ++i) {
        const auto& a = running.interfaces[i];
        const auto& b = next.interfaces[i];
        interfaces_same = a.name == b.name && a.device == b.device && a.address == b.address &&
                          a.prefix_length == b.prefix_length && a.gateway == b.gateway;
    }
    if (!interfaces_same)
        changed.push_back("interfaces");
    if (running.tables.connections != next.tables.connections ||
        running.tables.persistence_templates != next.tables.persistence_templates ||
        running.tables.ftp_sessions != next.tables.ftp_sessions)
        changed.push_back("tables");
    if (running.node_name != next.node_name)
        changed.push_back("node.name");
    if (running.stats.listen != next.stats.listen)
        changed.push_back("stats.listen");
    if (running.admin.socket != next.admin.socket)
        changed.push_back("admin.socket");
    if (vrrp_differs(running, next))
        changed.push_back("vrrp");
    return changed;
}

ReloadPlan refused(std::vector<std::string> messages) {
    messages.push_back("the running configuration is unchanged");
    return {std::nullopt, std::move(messages)};
}

} // namespace

ReloadPlan plan_reload(const std::string& path, const control::config::Config& running) {
    auto loaded = control::config::load_config_file(path);
    if (!loaded.config)
        return refused(control::config::format_diagnostics(path, loaded.diagnostics));
    ReloadPlan plan;
    control::config::Config next = std::move(*loaded.config);
    const auto kept = restart_only_changes(running, next);
    next.vrrp = running.vrrp; // read at start-up only (tracking, hooks and all)
    if (!kept.empty()) {
        std::string list;
        for (const auto& k : kept)
            list += (list.empty() ? "" : ", ") + k;
        plan.messages.push_back(fmt::format("not applied until lb restarts: {} (running values "
                                            "kept)",
                                            list));
        next.node_name = running.node_name;
        next.dpdk = running.dpdk;
        next.interfaces = running.interfaces;
        next.tables = running.tables;
        next.stats.listen = running.stats.listen;
        next.admin = running.admin;
        control::config::Diagnostics problems;
        control::config::validate_config(next, problems);
        if (!problems.empty()) {
            std::vector<std::string> messages;
            for (const auto& line : control::config::format_diagnostics(path, problems))
                messages.push_back("with the running interfaces: " + line);
            return refused(std::move(messages));
        }
    }
    plan.next = std::move(next);
    return plan;
}

} // namespace lb::app
