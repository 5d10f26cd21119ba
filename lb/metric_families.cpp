#include "lb/metric_families.hpp"

#include <limits>

namespace lb::app {

using control::report::StatsView;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;
using Families = std::vector<MetricFamily>;

namespace {

MetricFamily family(const char* name, const char* help, MetricType type) {
    MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    return f;
}

void add(MetricFamily& f, Labels labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    if (f.type == MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    f.metric.push_back(std::move(m));
}

double number(std::uint64_t value) {
    return static_cast<double>(value);
}

Labels with(Labels labels, const char* name, const char* value) {
    labels.push_back({name, value});
    return labels;
}

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

ClientMetric duration_histogram(const control::health::HealthStatus& h, Labels labels) {
    ClientMetric m;
    m.label = std::move(labels);
    m.histogram.sample_count = h.checks_total;
    m.histogram.sample_sum = h.duration_sum;
    for (std::size_t i = 0; i < control::health::check_duration_buckets.size(); ++i)
        m.histogram.bucket.push_back(
            {h.duration_buckets[i], control::health::check_duration_buckets[i]});
    m.histogram.bucket.push_back({h.checks_total, std::numeric_limits<double>::infinity()});
    return m;
}

void add_health_families(Families& out, const std::vector<control::health::HealthStatus>& health) {
    auto failures = family("lb_real_server_health_check_failures_total",
                           "Failed health checks per real server", MetricType::Counter);
    auto durations = family("lb_health_check_duration_seconds",
                            "How long health checks took, per real server", MetricType::Histogram);
    for (const auto& h : health) {
        const auto& [service, address, port] = h.server;
        const Labels labels{{"service", service},
                            {"server", control::report::server_name(address, port)},
                            {"check", h.check}};
        add(failures, labels, number(h.failures_total));
        durations.metric.push_back(duration_histogram(h, labels));
    }
    out.push_back(std::move(failures));
    out.push_back(std::move(durations));
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

void add_vrrp_families(Families& out, const control::report::VrrpReport& vrrp) {
    auto state = family("lb_vrrp_state", "VRRP instance state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT",
                        MetricType::Gauge);
    auto priority =
        family("lb_vrrp_priority", "VRRP priority in effect, after tracking", MetricType::Gauge);
    auto transitions =
        family("lb_vrrp_transitions_total", "VRRP state changes", MetricType::Counter);
    auto sent =
        family("lb_vrrp_adverts_sent_total", "VRRP advertisements sent", MetricType::Counter);
    auto received = family("lb_vrrp_adverts_received_total", "Valid VRRP advertisements received",
                           MetricType::Counter);
    auto garps = family("lb_vrrp_gratuitous_arps_sent_total",
                        "Gratuitous ARPs sent for the virtual addresses", MetricType::Counter);
    auto held = family("lb_vrrp_sync_group_held",
                       "1 while its sync group holds the instance in BACKUP although its own "
                       "master is gone (a partial partition)",
                       MetricType::Gauge);
    for (const auto& s : vrrp.instances) {
        const Labels labels{{"instance", s.name}};
        add(state, labels, static_cast<double>(s.state));
        add(priority, labels, s.priority);
        add(transitions, labels, number(s.transitions));
        add(sent, labels, number(s.adverts_sent));
        add(received, labels, number(s.adverts_received));
        add(garps, labels, number(s.gratuitous_arps_sent));
        add(held, labels, s.sync_held.empty() ? 0 : 1);
    }
    auto discarded = family("lb_vrrp_adverts_discarded_total",
                            "VRRP advertisements discarded, by reason", MetricType::Counter);
    for (std::size_t d = 0; d < vrrp.discarded.size(); ++d)
        add(discarded,
            {{"reason", control::vrrp::to_string(static_cast<control::vrrp::Discard>(d))}},
            number(vrrp.discarded[d]));
    for (auto* f : {&state, &priority, &transitions, &sent, &received, &garps, &held, &discarded})
        out.push_back(std::move(*f));
}

void add_replication_families(Families& out, const control::report::ReplicationReport& report) {
    namespace sync = control::sync;
    auto state = family("lb_replication_state",
                        "Session replication link: 0 connecting, 1 receiving bulk, 2 in sync, "
                        "3 peer lost",
                        MetricType::Gauge);
    auto matches = family("lb_replication_config_matches",
                          "1 while the peer's configuration digest equals ours", MetricType::Gauge);
    auto heard = family("lb_replication_last_heard_seconds",
                        "Seconds since the peer was last heard (-1: never)", MetricType::Gauge);
    auto queue = family("lb_replication_queue_depth", "Entries waiting for the send window",
                        MetricType::Gauge);
    auto in_flight = family("lb_replication_in_flight", "Datagrams sent and not yet acknowledged",
                            MetricType::Gauge);
    auto handshake = family("lb_replication_handshake",
                            "1 once the peer names our run and we know the stream it sends us",
                            MetricType::Gauge);
    auto gap = family("lb_replication_gap_open_seconds",
                      "How long the oldest gap in the peer's stream has been asked for; -1 none",
                      MetricType::Gauge);
    auto datagrams =
        family("lb_replication_datagrams_total", "Replication datagrams", MetricType::Counter);
    auto entries = family("lb_replication_entries_total",
                          "Session entries, by what happened to them", MetricType::Counter);
    auto dumps = family("lb_replication_bulk_dumps_sent_total",
                        "Full dumps of the table sent to the peer", MetricType::Counter);
    auto dropped = family("lb_replication_datagrams_dropped_total",
                          "Datagrams received and refused, by reason", MetricType::Counter);
    auto send_errors = family("lb_replication_send_errors_total",
                              "Datagrams the kernel refused to send", MetricType::Counter);
    for (const auto& r : report.peers) {
        const Labels peer{{"peer", r.peer}};
        add(state, peer, static_cast<double>(r.link.state));
        add(matches, peer, r.link.config_matches ? 1 : 0);
        add(heard, peer,
            r.last_heard_ago_ms ? static_cast<double>(*r.last_heard_ago_ms) / 1000.0 : -1.0);
        add(queue, peer, static_cast<double>(r.link.queue_depth));
        add(in_flight, peer, static_cast<double>(r.link.in_flight));
        add(handshake, peer, r.link.peer_knows_us && r.link.stream_received != 0 ? 1 : 0);
        add(gap, peer,
            r.link.gap_open_ms ? static_cast<double>(*r.link.gap_open_ms) / 1000.0 : -1.0);
        const sync::LinkCounters& c = r.link.counters;
        add(datagrams, with(peer, "direction", "sent"), number(c.datagrams_sent));
        add(datagrams, with(peer, "direction", "received"), number(c.datagrams_received));
        const std::pair<const char*, std::uint64_t> entry_counts[] = {
            {"sent", c.entries_sent},
            {"received", c.entries_received},
            {"resent", c.entries_resent},
            {"applied", r.applied},
            {"unbound", r.unbound},
            {"refused", r.refused},
            {"deleted", r.deleted},
            {"superseded", r.superseded},
            {"deletion_refused", r.deletions_refused},
            {"deletion_unrepaired", c.deletions_unrepaired},
            {"queue_overflow", c.queue_overflows}};
        for (const auto& [event, n] : entry_counts)
            add(entries, with(peer, "event", event), number(n));
        add(dumps, peer, number(c.bulk_dumps_sent));
        // From 1: the codec's first value, `none`, is no reason to drop anything.
        for (std::size_t i = 1; i < c.dropped.size(); ++i)
            add(dropped, with(peer, "reason", sync::drop_reason_name(i)), number(c.dropped[i]));
        add(send_errors, peer, number(r.send_errors));
    }
    // The node's own: not any one peer's.
    add(entries, {{"event", "events_lost"}}, number(report.events_lost));
    auto in_sync = family("lb_replication_in_sync",
                          "1 while the node's table is in sync with its peers (what VRRP's "
                          "preemption waits for)",
                          MetricType::Gauge);
    add(in_sync, {}, report.in_sync ? 1 : 0);
    auto unknown = family("lb_replication_unknown_sender_datagrams_total",
                          "Replication datagrams from an address that is none of the peers, "
                          "dropped unread",
                          MetricType::Counter);
    add(unknown, {}, number(report.unknown_senders));
    for (auto* f : {&state, &matches, &heard, &queue, &in_flight, &handshake, &gap, &datagrams,
                    &entries, &dumps, &dropped, &send_errors, &in_sync, &unknown})
        out.push_back(std::move(*f));
}

void add_bgp_families(Families& out, const control::report::BgpReport& r) {
    auto announced = family("lb_bgp_vip_announced",
                            "1 while the VIP is in the BIRD configuration BIRD confirmed loading",
                            MetricType::Gauge);
    for (const auto& v : r.vips)
        add(announced, {{"vip", v.vip}}, v.announced ? 1 : 0);
    auto session =
        family("lb_bgp_session_up", "1 while BIRD's BGP session with the neighbor is Established",
               MetricType::Gauge);
    for (const auto& n : r.neighbors)
        add(session, {{"neighbor", n.address}}, n.established ? 1 : 0);
    auto reconfigurations =
        family("lb_bgp_reconfigurations_total",
               "BIRD configurations written by lb that BIRD accepted", MetricType::Counter);
    add(reconfigurations, {}, number(r.reconfigurations));
    auto errors = family("lb_bgp_bird_errors_total",
                         "Refused BIRD commands, lost control connections, unwritable files",
                         MetricType::Counter);
    add(errors, {}, number(r.bird_errors));
    auto drained =
        family("lb_bgp_node_drained",
               "1 while lbctl drain-node (or a shutdown) withdraws every VIP", MetricType::Gauge);
    add(drained, {}, r.drained || r.shutting_down ? 1 : 0);
    for (auto* f : {&announced, &session, &reconfigurations, &errors, &drained})
        out.push_back(std::move(*f));
}

} // namespace

Families metric_families(const StatsView& view, const std::vector<double>& busy_ratio) {
    Families out;
    add_service_families(out, view.services);
    add_drops_and_tables(out, view);
    add_worker_families(out, view.workers, busy_ratio);
    add_health_families(out, view.health);
    add_loop_lag(out, view.control_loop_lag_max_ms);
    add_interface_families(out, view.interfaces);
    add_ftp_family(out, view.ftp);
    if (view.vrrp)
        add_vrrp_families(out, *view.vrrp);
    if (view.replication)
        add_replication_families(out, *view.replication);
    if (view.bgp)
        add_bgp_families(out, *view.bgp);
    return out;
}

} // namespace lb::app
