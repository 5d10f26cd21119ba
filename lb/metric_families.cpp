#include "lb/metric_families.hpp"

#include "control/report/metric_builder.hpp"
#include "lb/module.hpp"

#include <limits>

namespace lb::app {

using control::report::StatsView;
using namespace control::report::metrics;

namespace {

// A service's or a real server's connections and traffic, labelled alike.
struct TrafficFamilies {
    MetricFamily connections, active, packets, bytes;

    void add_traffic(const Labels& labels, const control::report::TrafficTotals& t,
                     double now_active) {
        add(connections, labels, number(t.connections));
        add(active, labels, now_active);
        add(packets, with(labels, "direction", "in"), number(t.packets_in));
        add(packets, with(labels, "direction", "out"), number(t.packets_out));
        add(bytes, with(labels, "direction", "in"), number(t.bytes_in));
        add(bytes, with(labels, "direction", "out"), number(t.bytes_out));
    }
    void move_into(Families& out) {
        for (auto* f : {&connections, &active, &packets, &bytes})
            out.push_back(std::move(*f));
    }
};

void add_service_families(Families& out,
                          const std::vector<control::report::ServiceView>& services) {
    TrafficFamilies service{
        family("lb_service_connections_total", "Connections created per service",
               MetricType::Counter),
        family("lb_service_connections_active", "Connections currently in the table per service",
               MetricType::Gauge),
        family("lb_service_packets_total",
               "Packets forwarded per service; direction in: client to real server, out: real "
               "server to client (NAT only)",
               MetricType::Counter),
        family("lb_service_bytes_total", "Bytes forwarded per service, as packets",
               MetricType::Counter)};
    TrafficFamilies server{family("lb_real_server_connections_total",
                                  "Connections created per real server", MetricType::Counter),
                           family("lb_real_server_connections_active",
                                  "Connections currently in the table per real server",
                                  MetricType::Gauge),
                           family("lb_real_server_packets_total",
                                  "Packets forwarded per real server", MetricType::Counter),
                           family("lb_real_server_bytes_total", "Bytes forwarded per real server",
                                  MetricType::Counter)};
    auto weight =
        family("lb_real_server_weight", "Weight in effect (0: drained)", MetricType::Gauge);
    auto up = family("lb_real_server_up", "1 when the real server may take new connections",
                     MetricType::Gauge);
    for (const auto& s : services) {
        for (const auto& rs : s.real_servers) {
            const Labels labels{{"service", s.name}, {"server", rs.server}};
            server.add_traffic(labels, rs.traffic, rs.connections_active);
            add(weight, labels, rs.weight());
            add(up, labels, rs.weight() > 0 ? 1 : 0);
        }
        service.add_traffic({{"service", s.name}}, s.traffic,
                            static_cast<double>(s.connections_active));
    }
    service.move_into(out);
    server.move_into(out);
    out.push_back(std::move(weight));
    out.push_back(std::move(up));
}

void add_drops_and_tables(Families& out, const StatsView& view) {
    auto drops = family("lb_drops_total", "Packets dropped, by reason", MetricType::Counter);
    for (const auto& [reason, total] : view.drops)
        add(drops, {{"reason", reason}}, number(total));
    out.push_back(std::move(drops));
    auto frag_needed = family("lb_icmp_frag_needed_total",
                              "ICMP fragmentation-needed errors sent to clients whose packets "
                              "were too big for a tunnel",
                              MetricType::Counter);
    add(frag_needed, {}, number(view.icmp_frag_needed));
    out.push_back(std::move(frag_needed));
    const auto gauge = [&](const char* name, const char* help, std::uint64_t value) {
        auto f = family(name, help, MetricType::Gauge);
        add(f, {}, number(value));
        out.push_back(std::move(f));
    };
    gauge("lb_connection_table_entries", "Connections in the table", view.connections_active);
    gauge("lb_connection_table_capacity", "Connections the table can hold",
          view.connections_capacity);
    gauge("lb_persistence_templates", "Persistence templates in the table",
          view.persistence_templates);
}

void add_worker_families(Families& out, const std::vector<control::report::WorkerView>& workers,
                         const std::vector<double>& busy_ratio) {
    auto packets = family("lb_worker_packets_total", "Packets received and sent per worker",
                          MetricType::Counter);
    auto polls =
        family("lb_worker_polls_total",
               "Polling rounds per worker: busy (received something) or idle", MetricType::Counter);
    auto busy = family("lb_worker_busy_ratio",
                       "Share of busy polling rounds since the previous scrape", MetricType::Gauge);
    for (std::size_t i = 0; i < workers.size(); ++i) {
        const std::string worker = std::to_string(i);
        add(packets, {{"worker", worker}, {"direction", "rx"}}, number(workers[i].rx_packets));
        add(packets, {{"worker", worker}, {"direction", "tx"}}, number(workers[i].tx_packets));
        add(polls, {{"worker", worker}, {"result", "busy"}}, number(workers[i].busy_polls));
        add(polls, {{"worker", worker}, {"result", "idle"}}, number(workers[i].idle_polls));
        add(busy, {{"worker", worker}}, i < busy_ratio.size() ? busy_ratio[i] : 0);
    }
    for (auto* f : {&packets, &polls, &busy})
        out.push_back(std::move(*f));
}

void add_loop_lag(Families& out, double lag_max_ms) {
    auto lag = family("lb_control_loop_lag_seconds",
                      "How late the control loop's 100 ms tick ran, the most since the stats "
                      "file was last written",
                      MetricType::Gauge);
    add(lag, {}, lag_max_ms / 1000.0);
    out.push_back(std::move(lag));
}

// The devices' own counters: `path` is "data" for the DPDK port and "kernel" for the tap of the
// interface's kernel exception path.
void add_interface_families(Families& out,
                            const std::vector<control::report::InterfaceCounters>& interfaces) {
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
    const auto one = [&](const std::string& name, const char* path,
                         const control::report::DeviceCounters& d) {
        const Labels labels{{"interface", name}, {"path", path}};
        add(packets, with(labels, "direction", "rx"), number(d.rx_packets));
        add(packets, with(labels, "direction", "tx"), number(d.tx_packets));
        add(missed, labels, number(d.rx_missed));
        add(errors, with(labels, "direction", "rx"), number(d.rx_errors));
        add(errors, with(labels, "direction", "tx"), number(d.tx_errors));
        add(no_mbuf, labels, number(d.rx_no_mbuf));
    };
    for (const auto& i : interfaces) {
        one(i.name, "data", i.data);
        if (i.has_kernel_path)
            one(i.name, "kernel", i.kernel_path);
    }
    for (auto* f : {&packets, &missed, &errors, &no_mbuf})
        out.push_back(std::move(*f));
}

void add_ftp_family(Families& out, const std::vector<control::report::FtpEventTotal>& events) {
    auto ftp = family("lb_ftp_events_total", "NAT FTP helper events, by kind", MetricType::Counter);
    for (const auto& event : events)
        add(ftp, {{"event", event.metric_event}}, number(event.total));
    out.push_back(std::move(ftp));
}

} // namespace

Families metric_families(const StatsView& view, const std::vector<double>& busy_ratio) {
    Families out;
    add_service_families(out, view.services);
    add_drops_and_tables(out, view);
    add_worker_families(out, view.workers, busy_ratio);
    add_loop_lag(out, view.control_loop_lag_max_ms);
    add_interface_families(out, view.interfaces);
    add_ftp_family(out, view.ftp);
    for (const ModuleKind& kind : module_kinds())
        kind.families(out, view);
    return out;
}

} // namespace lb::app
