#include "lb/balancer.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "control/connection_reset.hpp"
#include "control/stats_report.hpp"
#include "control/value_parsers.hpp"
#include "lb/exception_path.hpp"
#include "lb/port_counters.hpp"
#include "lb/ports.hpp"

namespace lb::app {

using namespace lb::dataplane;

namespace {

int launch_worker(void* arg) {
    return static_cast<Worker*>(arg)->run();
}

bool any_nat(const config::Config& c) {
    for (const auto& s : c.services)
        if (s.forwarding == config::Forwarding::nat)
            return true;
    return false;
}

} // namespace

void Balancer::RcuDeleter::operator()(rte_rcu_qsbr* v) const {
    rte_free(v);
}

Balancer::Balancer(config::Config config, std::string config_path)
    : config_(std::move(config)), config_path_(std::move(config_path)) {
    const unsigned workers = config_.dpdk.workers;
    const unsigned mbufs =
        std::max(8191u, 4096u * workers * static_cast<unsigned>(config_.interfaces.size()) + 2047u);
    pool_ = rte_pktmbuf_pool_create("mbufs", mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                    static_cast<int>(rte_socket_id()));
    if (!pool_)
        throw std::runtime_error(fmt::format("cannot create the packet buffer pool: {} "
                                             "(reserve hugepages or pass --no-huge -m 512)",
                                             rte_strerror(rte_errno)));
    const std::size_t rcu_size = rte_rcu_qsbr_get_memsize(workers);
    rcu_.reset(static_cast<rte_rcu_qsbr*>(rte_zmalloc("rcu", rcu_size, RTE_CACHE_LINE_SIZE)));
    if (!rcu_ || rte_rcu_qsbr_init(rcu_.get(), workers) != 0)
        throw std::runtime_error("cannot set up RCU");
    const int socket = static_cast<int>(rte_socket_id());
    // Sized for a reply key per connection whenever NAT is configured now. A reload that
    // introduces the first NAT service gets the DR sizing until the next restart.
    connections_ = std::make_unique<ConnectionTable>(config_.tables.connections, any_nat(config_),
                                                     rcu_.get(), socket);
    templates_ = std::make_unique<PersistenceTable>(config_.tables.persistence_templates,
                                                    rcu_.get(), socket);
    ftp_states_ = std::make_unique<FtpStateTable>(config_.tables.ftp_sessions, rcu_.get(), socket);
    control_tx_ = rte_ring_create("control_tx", 1024, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!control_tx_)
        throw std::runtime_error("cannot create the control ring");
    // Any worker may receive an advertisement (RSS): several producers, one consumer.
    // DESIGN.md has one single-producer ring per worker; adverts are a few per second per
    // peer, so the producers' compare-and-swap never contends and one ring keeps the
    // consumer simple. Replication's volume will get per-worker rings. Created without VRRP
    // too: a reload may add the vrrp section.
    control_rx_ = rte_ring_create("control_rx", 1024, socket, RING_F_SC_DEQ);
    if (!control_rx_)
        throw std::runtime_error("cannot create the VRRP ring");
    ports_ = start_ports(config_, workers, pool_);
    start_exception_path(config_, workers, pool_, ports_);
    snapshot_ = control::build_snapshot(config_, ports_, neighbours_, registry_, nullptr, 1);
    context_.snapshot.store(snapshot_.get(), std::memory_order_release);
    context_.connections = connections_.get();
    context_.templates = templates_.get();
    context_.ftp_states = ftp_states_.get();
    context_.neighbours = &neighbours_;
    context_.load = &load_;
    context_.rcu = rcu_.get();
    context_.control_tx = control_tx_;
    context_.control_rx = control_rx_;
    context_.idle_backoff = config_.dpdk.idle_backoff;
    for (unsigned i = 0; i < workers; ++i) {
        counters_.push_back(std::make_unique<WorkerCounters>());
        workers_.push_back(std::make_unique<Worker>(context_, i, *counters_.back()));
    }
}

Balancer::~Balancer() {
    stop_workers();
    stop_ports(ports_);
    if (control_tx_) {
        void* m;
        while (rte_ring_dequeue(control_tx_, &m) == 0)
            rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(control_tx_);
    }
    if (control_rx_) {
        void* m;
        while (rte_ring_dequeue(control_rx_, &m) == 0)
            rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(control_rx_);
    }
    connections_.reset();
    templates_.reset();
    ftp_states_.reset();
    rte_mempool_free(pool_);
}

void Balancer::start_workers() {
    unsigned lcore;
    std::size_t i = 0;
    RTE_LCORE_FOREACH_WORKER(lcore) {
        if (i == workers_.size())
            break;
        if (rte_eal_remote_launch(launch_worker, workers_[i].get(), lcore) != 0)
            throw std::runtime_error(fmt::format("cannot launch worker {} on lcore {}", i, lcore));
        ++i;
    }
    launched_ = true;
}

void Balancer::stop_workers() {
    if (!launched_)
        return;
    context_.stop.store(true, std::memory_order_relaxed);
    rte_eal_mp_wait_lcore();
    launched_ = false;
}

void Balancer::publish(config::Config next) {
    auto fresh = control::build_snapshot(next, ports_, neighbours_, registry_, snapshot_.get(),
                                         snapshot_->generation + 1, &down_);
    context_.snapshot.store(fresh.get(), std::memory_order_release);
    // Every worker loads the pointer once per burst and reports a quiescent state after it:
    // once all have, none can still hold the old snapshot.
    if (launched_)
        rte_rcu_qsbr_synchronize(rcu_.get(), RTE_QSBR_THRID_INVALID);
    std::lock_guard lock(state_mutex_);
    snapshot_ = std::move(fresh);
    config_ = std::move(next);
}

ChangeOutcome Balancer::apply_reload(ReloadPlan plan) {
    ChangeOutcome out;
    out.messages = std::move(plan.messages);
    if (!plan.next)
        return out;
    config::Config next = std::move(*plan.next);
    // Real servers the new file drops from services that say on_failure: reset (in the new
    // file, or the old one for a removed service) lose their connections at once.
    std::vector<std::uint16_t> to_reset;
    for (const auto& old_service : config_.services) {
        const config::Service* now = nullptr;
        for (const auto& s : next.services)
            if (s.name == old_service.name)
                now = &s;
        const auto policy = now ? now->on_failure : old_service.on_failure;
        if (policy != config::Service::OnFailure::reset)
            continue;
        for (const auto& rs : old_service.real_servers) {
            const bool kept =
                now && std::any_of(now->real_servers.begin(), now->real_servers.end(),
                                   [&](const config::RealServer& n) {
                                       return n.address == rs.address && n.port == rs.port;
                                   });
            if (!kept)
                if (auto id = registry_.find_real_server(old_service.name, rs.address,
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
        reset += control::reset_connections_of(context_, pool_, id);
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
    config::Config next = config_;
    config::Service* svc = nullptr;
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
    const auto colon = server.find(':');
    std::string error;
    auto address = config::parse_ipv4(server.substr(0, colon), error);
    std::optional<std::uint16_t> port;
    if (colon != std::string::npos) {
        auto p = config::parse_unsigned(server.substr(colon + 1), 65535, error);
        if (p)
            port = static_cast<std::uint16_t>(*p);
        else
            address.reset();
    }
    if (!address) {
        out.messages.push_back(fmt::format("'{}' is not ADDRESS or ADDRESS:PORT", server));
        return out;
    }
    std::vector<config::RealServer*> matches;
    for (auto& rs : svc->real_servers)
        if (rs.address == *address && (!port || rs.port == port))
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

void Balancer::set_down(control::DownSet down) {
    if (down == down_)
        return;
    control::DownSet newly_down;
    for (const auto& k : down)
        if (!down_.count(k))
            newly_down.insert(k);
    down_ = std::move(down);
    publish(config_);
    // on_failure: reset ends the established connections of servers that just went down.
    for (const auto& [service, address, port] : newly_down) {
        // An init-capture: clang 14 cannot capture a structured binding.
        const auto it =
            std::find_if(config_.services.begin(), config_.services.end(),
                         [&name = service](const config::Service& s) { return s.name == name; });
        if (it == config_.services.end() || it->on_failure != config::Service::OnFailure::reset)
            continue;
        if (auto id = registry_.find_real_server(service, address, port)) {
            const std::size_t n = control::reset_connections_of(context_, pool_, *id);
            fmt::print(stderr, "lb: health: {} {}:{}: {} connection(s) reset (on_failure: reset)\n",
                       service, config::format_ipv4(address), port, n);
        }
    }
}

void Balancer::set_health(std::vector<control::HealthStatus> statuses) {
    std::lock_guard lock(state_mutex_);
    health_ = std::move(statuses);
}

std::vector<control::HealthStatus> Balancer::health() const {
    std::lock_guard lock(state_mutex_);
    return health_;
}

void Balancer::set_vrrp(VrrpReport report) {
    std::lock_guard lock(state_mutex_);
    vrrp_ = std::move(report);
}

Balancer::VrrpReport Balancer::vrrp() const {
    std::lock_guard lock(state_mutex_);
    return vrrp_;
}

void Balancer::record_loop_lag(double ms) {
    std::lock_guard lock(state_mutex_);
    loop_lag_max_ms_ = std::max(loop_lag_max_ms_, ms);
}

std::vector<const WorkerCounters*> Balancer::counters() const {
    std::vector<const WorkerCounters*> views;
    for (const auto& c : counters_)
        views.push_back(c.get());
    return views;
}

namespace {

control::Json device_json(const DeviceCounters& d) {
    return {{"rx_packets_total", d.rx_packets}, {"rx_missed_total", d.rx_missed},
            {"rx_errors_total", d.rx_errors},   {"rx_no_mbuf_total", d.rx_no_mbuf},
            {"tx_packets_total", d.tx_packets}, {"tx_errors_total", d.tx_errors}};
}

control::Json interfaces_json(const std::vector<InterfaceCounters>& interfaces) {
    control::Json out = control::Json::array();
    for (const auto& i : interfaces) {
        control::Json one = {{"name", i.name}, {"device", i.device}};
        one.update(device_json(i.data));
        if (i.has_kernel_path)
            one["kernel_path"] = device_json(i.kernel_path);
        out.push_back(std::move(one));
    }
    return out;
}

} // namespace

std::string Balancer::stats_json() const {
    return control::json_text(stats(), 2) + "\n";
}

control::Json Balancer::stats() const {
    control::Json json = control::render_stats(config_, registry_, counters(), context_, down_);
    // Health and the control loop's lateness, in the same object.
    std::lock_guard lock(state_mutex_);
    json["control_loop_lag_max_ms"] = loop_lag_max_ms_;
    control::Json health = control::Json::array();
    for (const auto& h : health_) {
        const auto& [service, address, port] = h.server;
        health.push_back(
            {{"service", service},
             {"server", config::format_ipv4(address) + (port ? fmt::format(":{}", port) : "")},
             {"check", h.check},
             {"up", h.up},
             {"checked", h.checked},
             {"failures_total", h.failures_total},
             {"checks_total", h.checks_total}});
    }
    json["health"] = std::move(health);
    json["interfaces"] = interfaces_json(read_interface_counters(config_, ports_));
    return json;
}

void Balancer::write_stats() const {
    if (config_.stats.file.empty())
        return;
    try {
        control::write_file_atomically(config_.stats.file, stats_json());
        std::lock_guard lock(state_mutex_);
        loop_lag_max_ms_ = 0; // a fresh maximum for the next period
    } catch (const std::exception& e) {
        fmt::print(stderr, "lb: warning: stats: {}\n", e.what());
    }
}

} // namespace lb::app
