#include "control/report/stats_view.hpp"

#include <fmt/format.h>

#include "control/config/value_parsers.hpp"
#include "dataplane/counters.hpp"
#include "dataplane/scheduler.hpp"

namespace lb::control::report {

using dataplane::Counter;
using dataplane::FtpCounters;
using dataplane::TrafficCounters;
using dataplane::WorkerCounters;
using Workers = std::vector<const WorkerCounters*>;

std::string iso8601_ms(std::chrono::system_clock::time_point t) {
    const auto ms = std::chrono::floor<std::chrono::milliseconds>(t);
    const auto days = std::chrono::floor<std::chrono::days>(ms);
    const std::chrono::year_month_day date{days};
    const std::chrono::hh_mm_ss time{ms - days};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", int{date.year()},
                       unsigned{date.month()}, unsigned{date.day()}, time.hours().count(),
                       time.minutes().count(), time.seconds().count(), time.subseconds().count());
}

std::int64_t monotonic_ms(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

namespace {

// The one place the workers' counters are added up: `pick` names the counter in one worker.
template <typename Pick> std::uint64_t sum(const Workers& workers, Pick pick) {
    std::uint64_t total = 0;
    for (const auto* w : workers)
        total += pick(*w).read();
    return total;
}

// `pick` names a service's or a real server's block in one worker.
template <typename Pick> TrafficTotals traffic_of(const Workers& workers, Pick pick) {
    const auto total = [&](Counter TrafficCounters::*member) {
        return sum(workers,
                   [&](const WorkerCounters& w) -> const Counter& { return pick(w).*member; });
    };
    return {total(&TrafficCounters::connections), total(&TrafficCounters::packets_in),
            total(&TrafficCounters::bytes_in), total(&TrafficCounters::packets_out),
            total(&TrafficCounters::bytes_out)};
}

std::vector<std::pair<std::string, std::uint64_t>> drops_of(const Workers& workers) {
    std::vector<std::pair<std::string, std::uint64_t>> out;
    for (std::size_t r = 0; r < dataplane::drop_reason_count; ++r)
        out.emplace_back(
            dataplane::drop_reason_name(static_cast<dataplane::DropReason>(r)),
            sum(workers, [r](const WorkerCounters& w) -> const Counter& { return w.drops[r]; }));
    return out;
}

std::vector<FtpEventTotal> ftp_of(const Workers& workers) {
    struct Kind {
        const char* stats_name;
        const char* metric_event;
        Counter FtpCounters::*member;
    };
    static constexpr Kind kinds[] = {
        {"pasv_rewritten_total", "pasv_rewritten", &FtpCounters::pasv_rewritten},
        {"pasv_unchanged_total", "pasv_unchanged", &FtpCounters::pasv_unchanged},
        {"expectations_total", "expectation", &FtpCounters::expectations},
        {"active_connections_total", "active_connection", &FtpCounters::active_connections},
        {"malformed_total", "malformed", &FtpCounters::malformed},
        {"bounce_refused_total", "bounce_refused", &FtpCounters::bounce_refused},
        {"split_lines_held_total", "split_line_held", &FtpCounters::split_lines_held},
        {"not_rewritable_total", "not_rewritable", &FtpCounters::not_rewritable}};
    std::vector<FtpEventTotal> out;
    for (const auto& kind : kinds)
        out.push_back({kind.stats_name, kind.metric_event,
                       sum(workers, [&](const WorkerCounters& w) -> const Counter& {
                           return w.ftp.*kind.member;
                       })});
    return out;
}

void set_health(RealServerView& view, const health::ServerKey& key,
                const std::vector<health::HealthStatus>& health) {
    for (const auto& h : health)
        if (h.server == key) {
            view.health = !h.checked ? "pending" : h.up ? "up" : "down";
            view.health_reason = h.up ? "" : h.reason;
        }
}

ServiceView service_view(const config::Service& service, const IdentityRegistry& registry,
                         const Workers& workers, const dataplane::RealServerLoad& load,
                         const health::DownSet& down,
                         const std::vector<health::HealthStatus>& health) {
    ServiceView out;
    out.name = service.name;
    const std::uint16_t service_id = registry.find_service(service.name).value_or(0);
    out.traffic = traffic_of(
        workers, [service_id](const WorkerCounters& w) -> auto& { return w.services[service_id]; });
    for (const auto& rs : service.real_servers) {
        const std::uint32_t address = rs.address.ipv4(); // IPv4 only yet (validator.cpp)
        const health::ServerKey key{service.name, address, rs.port.value_or(0)};
        const std::uint16_t id =
            registry.find_real_server(service.name, address, rs.port.value_or(0)).value_or(0);
        RealServerView server;
        server.server = server_name(address, rs.port.value_or(0));
        server.address = config::format_ip(rs.address);
        server.configured_weight = rs.weight;
        server.drained = down.count(key) > 0;
        server.connections_active = load.get(id);
        server.traffic = traffic_of(
            workers, [id](const WorkerCounters& w) -> auto& { return w.real_servers[id]; });
        set_health(server, key, health);
        out.connections_active += server.connections_active;
        out.real_servers.push_back(std::move(server));
    }
    return out;
}

} // namespace

std::string server_name(std::uint32_t address, std::uint16_t port) {
    return port ? fmt::format("{}:{}", config::format_ipv4(address), port)
                : config::format_ipv4(address);
}

StatsView collect_stats(const config::Config& config, const IdentityRegistry& registry,
                        const Workers& workers, const dataplane::RealServerLoad& load,
                        const health::DownSet& down, std::vector<health::HealthStatus> health) {
    StatsView view;
    view.node = config.node_name;
    view.rx_packets = sum(workers, [](auto& w) -> const Counter& { return w.rx_packets; });
    view.rx_bytes = sum(workers, [](auto& w) -> const Counter& { return w.rx_bytes; });
    view.tx_packets = sum(workers, [](auto& w) -> const Counter& { return w.tx_packets; });
    view.arp_replies = sum(workers, [](auto& w) -> const Counter& { return w.arp_replies; });
    view.icmp_echo_replies =
        sum(workers, [](auto& w) -> const Counter& { return w.icmp_echo_replies; });
    view.icmp_frag_needed =
        sum(workers, [](auto& w) -> const Counter& { return w.icmp_frag_needed_sent; });
    view.drops = drops_of(workers);
    view.ftp = ftp_of(workers);
    for (const auto* w : workers)
        view.workers.push_back({w->rx_packets.read(), w->tx_packets.read(), w->busy_polls.read(),
                                w->idle_polls.read()});
    for (const auto& service : config.services)
        view.services.push_back(service_view(service, registry, workers, load, down, health));
    view.health = std::move(health);
    return view;
}

void add_module_parts(StatsView& view, StatsView parts, const Workers& workers) {
    view.vrrp = std::move(parts.vrrp);
    view.replication = std::move(parts.replication);
    view.bgp = std::move(parts.bgp);
    if (view.replication)
        view.replication->events_lost =
            sum(workers, [](auto& w) -> const Counter& { return w.sync_events_lost; });
}

} // namespace lb::control::report
