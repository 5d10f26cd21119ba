#include "lb/balancer.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "control/config/value_parsers.hpp"
#include "control/connection_reset.hpp"
#include "control/report/stats_report.hpp"
#include "lb/exception_path.hpp"
#include "lb/module.hpp"
#include "lb/port_counters.hpp"
#include "lb/ports.hpp"

namespace lb::app {

using namespace lb::dataplane;

namespace {

bool any_nat(const control::config::Config& c) {
    for (const auto& s : c.services)
        if (s.forwarding == control::config::Forwarding::nat)
            return true;
    return false;
}

DataplaneSizes sizes_for(const control::config::Config& c) {
    DataplaneSizes sizes;
    sizes.workers = c.dpdk.workers;
    sizes.packet_buffers =
        std::max(8191u, 4096u * sizes.workers * static_cast<unsigned>(c.interfaces.size()) + 2047u);
    sizes.connections = c.tables.connections;
    // Sized for a reply key per connection whenever NAT is configured now. A reload that
    // introduces the first NAT service gets the DR sizing until the next restart.
    sizes.reply_keys = any_nat(c);
    sizes.persistence_templates = c.tables.persistence_templates;
    sizes.ftp_sessions = c.tables.ftp_sessions;
    sizes.control_frames = true; // the ring exists without VRRP too: a reload may add it
    for (const ModuleKind& kind : module_kinds())
        sizes.session_events = sizes.session_events || (kind.session_events && kind.configured(c));
    sizes.idle_backoff = c.dpdk.idle_backoff;
    return sizes;
}

} // namespace

Balancer::Balancer(control::config::Config config, std::string config_path)
    : config_(std::move(config)), config_path_(std::move(config_path)),
      dataplane_(sizes_for(config_)) {
    ports_ = start_ports(config_, config_.dpdk.workers, dataplane_.pool());
    start_exception_path(config_, config_.dpdk.workers, dataplane_.pool(), ports_);
    snapshot_ =
        control::build_snapshot(config_, ports_, dataplane_.neighbours(), registry_, nullptr, 1);
    dataplane_.publish(*snapshot_);
}

Balancer::~Balancer() {
    stop_workers();
    stop_ports(ports_);
}

void Balancer::start_workers() {
    dataplane_.launch();
}

void Balancer::stop_workers() {
    dataplane_.stop();
}

void Balancer::publish(control::config::Config next) {
    auto fresh = control::build_snapshot(next, ports_, dataplane_.neighbours(), registry_,
                                         snapshot_.get(), snapshot_->generation + 1, &down_);
    dataplane_.publish(*fresh);
    std::lock_guard lock(state_mutex_);
    snapshot_ = std::move(fresh);
    config_ = std::move(next);
}

ChangeOutcome Balancer::apply_reload(control::config::ReloadPlan plan) {
    ChangeOutcome out;
    out.messages = std::move(plan.messages);
    if (!plan.next)
        return out;
    control::config::Config next = std::move(*plan.next);
    // Real servers the new file drops from services that say on_failure: reset (in the new
    // file, or the old one for a removed service) lose their connections at once.
    std::vector<std::uint16_t> to_reset;
    for (const auto& old_service : config_.services) {
        const control::config::Service* now = nullptr;
        for (const auto& s : next.services)
            if (s.name == old_service.name)
                now = &s;
        const auto policy = now ? now->on_failure : old_service.on_failure;
        if (policy != control::config::Service::OnFailure::reset)
            continue;
        for (const auto& rs : old_service.real_servers) {
            const bool kept =
                now && std::any_of(now->real_servers.begin(), now->real_servers.end(),
                                   [&](const control::config::RealServer& n) {
                                       return n.address == rs.address && n.port == rs.port;
                                   });
            if (!kept)
                if (auto id = registry_.find_real_server(old_service.name, rs.address.ipv4(),
                                                         rs.port.value_or(0)))
                    to_reset.push_back(*id);
        }
    }
    try {
        publish(std::move(next));
    } catch (const std::exception& e) {
        out.messages.push_back(fmt::format("{}; the running configuration is unchanged", e.what()));
        return out;
    }
    std::size_t reset = 0;
    for (const auto id : to_reset)
        reset += control::reset_connections_of(context(), pool(), id);
    out.applied = true;
    out.messages.push_back(
        fmt::format("{} reloaded: {} service(s)", config_path_, config_.services.size()));
    if (!to_reset.empty())
        out.messages.push_back(fmt::format("{} connection(s) of removed real servers reset "
                                           "(on_failure: reset)",
                                           reset));
    return out;
}

ChangeOutcome Balancer::set_weight(const std::string& service, const std::string& server,
                                   std::uint32_t weight) {
    ChangeOutcome out;
    if (weight > 65535) {
        out.messages.push_back(fmt::format("weight {} is out of range (0..65535)", weight));
        return out;
    }
    control::config::Config next = config_;
    control::config::Service* svc = nullptr;
    for (auto& s : next.services)
        if (s.name == service)
            svc = &s;
    if (!svc) {
        std::string names;
        for (const auto& s : next.services)
            names += (names.empty() ? "" : ", ") + s.name;
        out.messages.push_back(
            fmt::format("no service '{}' (services: {})", service, names.empty() ? "none" : names));
        return out;
    }
    // ADDRESS, ADDRESS:PORT, or for IPv6 [ADDRESS]:PORT (control/config/ip_address.hpp).
    std::string error;
    const auto endpoint = control::config::parse_endpoint(server, error);
    if (!endpoint) {
        out.messages.push_back(fmt::format("'{}' is not ADDRESS or ADDRESS:PORT", server));
        return out;
    }
    const auto& address = endpoint->address;
    const auto& port = endpoint->port;
    std::vector<control::config::RealServer*> matches;
    for (auto& rs : svc->real_servers)
        if (rs.address == address && (!port || rs.port == port))
            matches.push_back(&rs);
    if (matches.size() != 1) {
        out.messages.push_back(
            matches.empty()
                ? fmt::format("service '{}' has no real server {}", service, server)
                : fmt::format("service '{}' has several real servers at {}: add the port", service,
                              server));
        return out;
    }
    matches.front()->weight = weight;
    try {
        publish(std::move(next));
    } catch (const std::exception& e) {
        out.messages.push_back(e.what());
        return out;
    }
    out.applied = true;
    out.messages.push_back(fmt::format("{} {}: weight {}{}", service, server, weight,
                                       weight == 0 ? " (drained)" : ""));
    return out;
}

void Balancer::set_down(control::health::DownSet down) {
    if (down == down_)
        return;
    control::health::DownSet newly_down;
    for (const auto& k : down)
        if (!down_.count(k))
            newly_down.insert(k);
    down_ = std::move(down);
    publish(config_);
    // on_failure: reset ends the established connections of servers that just went down.
    for (const auto& [service, address, port] : newly_down) {
        // An init-capture: clang 14 cannot capture a structured binding.
        const auto it = std::find_if(
            config_.services.begin(), config_.services.end(),
            [&name = service](const control::config::Service& s) { return s.name == name; });
        if (it == config_.services.end() ||
            it->on_failure != control::config::Service::OnFailure::reset)
            continue;
        if (auto id = registry_.find_real_server(service, address, port)) {
            const std::size_t n = control::reset_connections_of(context(), pool(), *id);
            fmt::print(stderr, "lb: health: {} {}:{}: {} connection(s) reset (on_failure: reset)\n",
                       service, control::config::format_ipv4(address), port, n);
        }
    }
}

void Balancer::record_loop_lag(double ms) {
    std::lock_guard lock(state_mutex_);
    loop_lag_max_ms_ = std::max(loop_lag_max_ms_, ms);
}

std::vector<const WorkerCounters*> Balancer::counters() const {
    return dataplane_.counters();
}

control::report::StatsView Balancer::stats_view() const {
    std::lock_guard lock(state_mutex_);
    // The modules' parts first: health's statuses go into every real server's view.
    control::report::StatsView parts = reports_.parts();
    control::report::StatsView view = control::report::collect_stats(
        config_, registry_, counters(), dataplane_.load(), down_, std::move(parts.health));
    view.connections_active = context().connections->size();
    view.connections_capacity = context().connections->capacity();
    view.persistence_templates = context().templates->size();
    view.control_loop_lag_max_ms = loop_lag_max_ms_;
    view.interfaces = read_interface_counters(config_, ports_);
    control::report::add_module_parts(view, std::move(parts), counters());
    return view;
}

control::Json Balancer::stats() const {
    return control::report::render_stats(stats_view());
}

std::string Balancer::stats_json() const {
    return control::json_text(stats(), 2) + "\n";
}

void Balancer::write_stats() const {
    if (config_.stats.file.empty())
        return;
    try {
        control::report::write_file_atomically(config_.stats.file, stats_json());
        std::lock_guard lock(state_mutex_);
        loop_lag_max_ms_ = 0; // a fresh maximum for the next period
    } catch (const std::exception& e) {
        fmt::print(stderr, "lb: warning: stats: {}\n", e.what());
    }
}

} // namespace lb::app
