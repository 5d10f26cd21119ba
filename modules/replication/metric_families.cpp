#include "modules/replication/metric_families.hpp"

namespace lb::control::report::metrics {

void add_replication_families(Families& out, const StatsView& view) {
    if (!view.replication)
        return;
    const auto& report = *view.replication;
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

} // namespace lb::control::report::metrics
