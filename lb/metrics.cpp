#include "lb/metrics.hpp"

#include <limits>
#include <stdexcept>

#include <fmt/format.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <rte_version.h>

#include "control/config/value_parsers.hpp"
#include "lb/port_counters.hpp"

namespace lb::app {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

MetricFamily family(const char* name, const char* help, MetricType type) {
    MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    return f;
}

void add(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    if (f.type == MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    f.metric.push_back(std::move(m));
}

std::string server_label(const control::config::RealServer& rs) {
    return rs.port ? fmt::format("{}:{}", control::config::format_ipv4(rs.address), *rs.port)
                   : control::config::format_ipv4(rs.address);
}

// The devices' own counters (lb/port_counters): `path` is "data" for the DPDK port and
// "kernel" for the tap of the interface's kernel exception path.
void add_interface_metrics(std::vector<MetricFamily>& out,
                           const std::vector<InterfaceCounters>& interfaces) {
    auto packets = family("lb_interface_packets_total",
                          "Frames the device received and sent, as the device counts them",
                          MetricType::Counter);
    auto missed = family("lb_interface_rx_missed_total",
                         "Frames the device dropped because its receive ring was full, before "
                         "any worker saw them",
                         MetricType::Counter);
    auto errors = family("lb_interface_errors_total", "Receive and transmit errors of the device",
                         MetricType::Counter);
    auto no_mbuf = family("lb_interface_rx_no_mbuf_total",
                          "Frames not received for want of a packet buffer", MetricType::Counter);
    auto one = [&](const std::string& name, const char* path, const DeviceCounters& d) {
        const auto n = [](std::uint64_t v) { return static_cast<double>(v); };
        add(packets, {{"interface", name}, {"path", path}, {"direction", "rx"}}, n(d.rx_packets));
        add(packets, {{"interface", name}, {"path", path}, {"direction", "tx"}}, n(d.tx_packets));
        add(missed, {{"interface", name}, {"path", path}}, n(d.rx_missed));
        add(errors, {{"interface", name}, {"path", path}, {"direction", "rx"}}, n(d.rx_errors));
        add(errors, {{"interface", name}, {"path", path}, {"direction", "tx"}}, n(d.tx_errors));
        add(no_mbuf, {{"interface", name}, {"path", path}}, n(d.rx_no_mbuf));
    };
    for (const auto& i : interfaces) {
        one(i.name, "data", i.data);
        if (i.has_kernel_path)
            one(i.name, "kernel", i.kernel_path);
    }
    for (auto* f : {&packets, &missed, &errors, &no_mbuf})
        out.push_back(std::move(*f));
}

} // namespace

std::vector<MetricFamily> MetricsCollector::Collect() const {
    const auto health = balancer_.health(); // takes the state lock itself
    const auto vrrp = balancer_.vrrp();     // so does this
    std::lock_guard lock(balancer_.state_mutex());
    const auto& cfg = balancer_.config();
    const auto& registry = balancer_.registry();
    const auto workers = balancer_.counters();
    const auto& ctx = balancer_.context();
    std::vector<MetricFamily> out;

    auto build = family("lb_build_info", "lb build: version and DPDK version", MetricType::Gauge);
    add(build, {{"version", LB_VERSION}, {"dpdk", rte_version()}}, 1);
    out.push_back(std::move(build));

    using dataplane::Counter;
    using dataplane::TrafficCounters;
    auto sum_traffic = [&](bool server, std::size_t id, Counter TrafficCounters::*member) {
        double t = 0;
        for (const auto* w : workers)
            t += static_cast<double>(
                ((server ? w->real_servers[id] : w->services[id]).*member).read());
        return t;
    };

    auto svc_conns = family("lb_service_connections_total", "Connections created per service",
                            MetricType::Counter);
    auto svc_active = family("lb_service_connections_active",
                             "Connections currently in the table per service", MetricType::Gauge);
    auto svc_packets = family("lb_service_packets_total",
                              "Packets forwarded per service; direction in: client to real "
                              "server, out: real server to client (NAT only)",
                              MetricType::Counter);
    auto svc_bytes = family("lb_service_bytes_total", "Bytes forwarded per service, as packets",
                            MetricType::Counter);
    auto rs_conns = family("lb_real_server_connections_total",
                           "Connections created per real server", MetricType::Counter);
    auto rs_active =
        family("lb_real_server_connections_active",
               "Connections currently in the table per real server", MetricType::Gauge);
    auto rs_packets = family("lb_real_server_packets_total", "Packets forwarded per real server",
                             MetricType::Counter);
    auto rs_bytes = family("lb_real_server_bytes_total", "Bytes forwarded per real server",
                           MetricType::Counter);
    auto rs_weight =
        family("lb_real_server_weight", "Weight in effect (0: drained)", MetricType::Gauge);
    auto rs_up = family("lb_real_server_up", "1 when the real server may take new connections",
                        MetricType::Gauge);
    for (const auto& s : cfg.services) {
        const auto sid = registry.find_service(s.name).value_or(0);
        double active = 0;
        for (const auto& rs : s.real_servers) {
            const auto id =
                registry.find_real_server(s.name, rs.address, rs.port.value_or(0)).value_or(0);
            const std::vector<ClientMetric::Label> l{{"service", s.name},
                                                     {"server", server_label(rs)}};
            const double a = ctx.load->get(id);
            active += a;
            add(rs_conns, l, sum_traffic(true, id, &TrafficCounters::connections));
            add(rs_active, l, a);
            for (const char* dir : {"in", "out"}) {
                auto ld = l;
                ld.push_back({"direction", dir});
                const bool in = dir[0] == 'i';
                add(rs_packets, ld,
                    sum_traffic(true, id,
                                in ? &TrafficCounters::packets_in : &TrafficCounters::packets_out));
                add(rs_bytes, ld,
                    sum_traffic(true, id,
                                in ? &TrafficCounters::bytes_in : &TrafficCounters::bytes_out));
            }
            bool healthy = true;
            for (const auto& h : health)
                if (h.server == control::health::ServerKey{s.name, rs.address, rs.port.value_or(0)})
                    healthy = h.up;
            // In effect: a server drained by its health check has weight 0 in the snapshot.
            add(rs_weight, l, healthy ? rs.weight : 0);
            add(rs_up, l, rs.weight > 0 && healthy ? 1 : 0);
        }
        const std::vector<ClientMetric::Label> l{{"service", s.name}};
        add(svc_conns, l, sum_traffic(false, sid, &TrafficCounters::connections));
        add(svc_active, l, active);
        for (const char* dir : {"in", "out"}) {
            auto ld = l;
            ld.push_back({"direction", dir});
            const bool in = dir[0] == 'i';
            add(svc_packets, ld,
                sum_traffic(false, sid,
                            in ? &TrafficCounters::packets_in : &TrafficCounters::packets_out));
            add(svc_bytes, ld,
                sum_traffic(false, sid,
                            in ? &TrafficCounters::bytes_in : &TrafficCounters::bytes_out));
        }
    }
    for (auto* f : {&svc_conns, &svc_active, &svc_packets, &svc_bytes, &rs_conns, &rs_active,
                    &rs_packets, &rs_bytes, &rs_weight, &rs_up})
        out.push_back(std::move(*f));

    auto drops = family("lb_drops_total", "Packets dropped, by reason", MetricType::Counter);
    for (std::size_t r = 0; r < dataplane::drop_reason_count; ++r) {
        double t = 0;
        for (const auto* w : workers)
            t += static_cast<double>(w->drops[r].read());
        add(drops, {{"reason", dataplane::drop_reason_name(static_cast<dataplane::DropReason>(r))}},
            t);
    }
    out.push_back(std::move(drops));

    auto gauge = [&](const char* name, const char* help, double v) {
        auto f = family(name, help, MetricType::Gauge);
        add(f, {}, v);
        out.push_back(std::move(f));
    };
    gauge("lb_connection_table_entries", "Connections in the table",
          static_cast<double>(ctx.connections->size()));
    gauge("lb_connection_table_capacity", "Connections the table can hold",
          static_cast<double>(ctx.connections->capacity()));
    gauge("lb_persistence_templates", "Persistence templates in the table",
          static_cast<double>(ctx.templates->size()));

    auto packets = family("lb_worker_packets_total", "Packets received and sent per worker",
                          MetricType::Counter);
    auto polls =
        family("lb_worker_polls_total",
               "Polling rounds per worker: busy (received something) or idle", MetricType::Counter);
    auto busy = family("lb_worker_busy_ratio",
                       "Share of busy polling rounds since the previous scrape", MetricType::Gauge);
    {
        std::lock_guard previous_lock(previous_mutex_);
        previous_polls_.resize(workers.size());
        for (std::size_t i = 0; i < workers.size(); ++i) {
            const std::string w = std::to_string(i);
            add(packets, {{"worker", w}, {"direction", "rx"}},
                static_cast<double>(workers[i]->rx_packets.read()));
            add(packets, {{"worker", w}, {"direction", "tx"}},
                static_cast<double>(workers[i]->tx_packets.read()));
            const std::uint64_t b = workers[i]->busy_polls.read();
            const std::uint64_t d = workers[i]->idle_polls.read();
            add(polls, {{"worker", w}, {"result", "busy"}}, static_cast<double>(b));
            add(polls, {{"worker", w}, {"result", "idle"}}, static_cast<double>(d));
            const auto [pb, pd] = previous_polls_[i];
            const double rounds = static_cast<double>((b - pb) + (d - pd));
            add(busy, {{"worker", w}}, rounds > 0 ? static_cast<double>(b - pb) / rounds : 0);
            previous_polls_[i] = {b, d};
        }
    }
    out.push_back(std::move(packets));
    out.push_back(std::move(polls));
    out.push_back(std::move(busy));

    auto failures = family("lb_real_server_health_check_failures_total",
                           "Failed health checks per real server", MetricType::Counter);
    auto durations = family("lb_health_check_duration_seconds",
                            "How long health checks took, per real server", MetricType::Histogram);
    for (const auto& h : health) {
        const auto& [service, address, port] = h.server;
        const std::vector<ClientMetric::Label> l{
            {"service", service},
            {"server", port ? fmt::format("{}:{}", control::config::format_ipv4(address), port)
                            : control::config::format_ipv4(address)},
            {"check", h.check}};
        add(failures, l, static_cast<double>(h.failures_total));
        ClientMetric m;
        m.label = l;
        m.histogram.sample_count = h.checks_total;
        m.histogram.sample_sum = h.duration_sum;
        for (std::size_t i = 0; i < control::health::check_duration_buckets.size(); ++i)
            m.histogram.bucket.push_back(
                {h.duration_buckets[i], control::health::check_duration_buckets[i]});
        m.histogram.bucket.push_back({h.checks_total, std::numeric_limits<double>::infinity()});
        durations.metric.push_back(std::move(m));
    }
    out.push_back(std::move(failures));
    out.push_back(std::move(durations));
    auto lag = family("lb_control_loop_lag_seconds",
                      "How late the control loop's 100 ms tick ran, the most since the stats "
                      "file was last written",
                      MetricType::Gauge);
    add(lag, {}, balancer_.loop_lag_max_ms_unlocked() / 1000.0);
    out.push_back(std::move(lag));
    add_interface_metrics(out, read_interface_counters(cfg, balancer_.ports()));

    auto ftp = family("lb_ftp_events_total", "NAT FTP helper events, by kind", MetricType::Counter);
    using dataplane::FtpCounters;
    const std::pair<const char*, Counter FtpCounters::*> kinds[] = {
        {"pasv_rewritten", &FtpCounters::pasv_rewritten},
        {"pasv_unchanged", &FtpCounters::pasv_unchanged},
        {"expectation", &FtpCounters::expectations},
        {"active_connection", &FtpCounters::active_connections},
        {"malformed", &FtpCounters::malformed},
        {"bounce_refused", &FtpCounters::bounce_refused},
        {"split_line_held", &FtpCounters::split_lines_held},
        {"not_rewritable", &FtpCounters::not_rewritable}};
    for (const auto& [kind, member] : kinds) {
        double t = 0;
        for (const auto* w : workers)
            t += static_cast<double>((w->ftp.*member).read());
        add(ftp, {{"event", kind}}, t);
    }
    out.push_back(std::move(ftp));

    if (!cfg.vrrp.empty()) {
        auto state =
            family("lb_vrrp_state", "VRRP instance state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT",
                   MetricType::Gauge);
        auto priority = family("lb_vrrp_priority", "VRRP priority in effect, after tracking",
                               MetricType::Gauge);
        auto transitions =
            family("lb_vrrp_transitions_total", "VRRP state changes", MetricType::Counter);
        auto sent =
            family("lb_vrrp_adverts_sent_total", "VRRP advertisements sent", MetricType::Counter);
        auto received = family("lb_vrrp_adverts_received_total",
                               "Valid VRRP advertisements received", MetricType::Counter);
        auto garps = family("lb_vrrp_gratuitous_arps_sent_total",
                            "Gratuitous ARPs sent for the virtual addresses", MetricType::Counter);
        auto held = family("lb_vrrp_sync_group_held",
                           "1 while its sync group holds the instance in BACKUP although its own "
                           "master is gone (a partial partition)",
                           MetricType::Gauge);
        for (const auto& s : vrrp.instances) {
            const std::vector<ClientMetric::Label> l = {{"instance", s.name}};
            add(state, l, static_cast<double>(s.state));
            add(priority, l, s.priority);
            add(transitions, l, static_cast<double>(s.transitions));
            add(sent, l, static_cast<double>(s.adverts_sent));
            add(received, l, static_cast<double>(s.adverts_received));
            add(garps, l, static_cast<double>(s.gratuitous_arps_sent));
            add(held, l, s.sync_held.empty() ? 0 : 1);
        }
        auto discarded = family("lb_vrrp_adverts_discarded_total",
                                "VRRP advertisements discarded, by reason", MetricType::Counter);
        for (std::size_t d = 0; d < vrrp.discarded.size(); ++d)
            add(discarded,
                {{"reason", control::vrrp::to_string(static_cast<control::vrrp::Discard>(d))}},
                static_cast<double>(vrrp.discarded[d]));
        for (auto* f :
             {&state, &priority, &transitions, &sent, &received, &garps, &held, &discarded})
            out.push_back(std::move(*f));
    }
    return out;
}

MetricsEndpoint::MetricsEndpoint(const std::string& listen, const Balancer& balancer)
    : collector_(std::make_shared<MetricsCollector>(balancer)) {
    try {
        exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
    } catch (const std::exception& e) {
        throw std::runtime_error(
            fmt::format("stats.listen {}: cannot serve metrics there: {}", listen, e.what()));
    }
    exposer_->RegisterCollectable(collector_);
}

MetricsEndpoint::~MetricsEndpoint() = default;

} // namespace lb::app
