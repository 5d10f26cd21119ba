#include "modules/replication/admin_view.hpp"
#include "modules/replication/module.hpp"

#include <fmt/format.h>

#include "control/json_text.hpp"

namespace lb::app {

namespace sync = control::sync;
using control::Json;
using control::report::iso8601_ms;
using control::report::Moment;
using control::report::monotonic_ms;

namespace {

Json peer_json(const control::report::ReplicationPeerReport& r) {
    const sync::LinkStatus& l = r.link;
    const sync::LinkCounters& c = l.counters;
    Json dropped = Json::object();
    // From 1: the codec's first value, `none`, is no reason to drop anything (as the metrics).
    for (std::size_t i = 1; i < c.dropped.size(); ++i)
        dropped[sync::drop_reason_name(i)] = c.dropped[i];
    return {
        {"peer", r.peer},
        {"state", sync::link_state_name(l.state)},
        {"epoch", l.epoch},
        {"peer_epoch", l.peer_epoch},
        {"peer_in_sync", l.peer_in_sync},
        {"peer_knows_us", l.peer_knows_us},
        {"stream_sent", l.stream_sent},
        {"stream_received", l.stream_received},
        {"asking_for_stream", l.asking_for_stream},
        {"received_through", l.received_through},
        {"held_ahead", l.held_ahead},
        {"gap_open_ms", l.gap_open_ms ? Json(*l.gap_open_ms) : Json(nullptr)},
        {"deletion_backlog", l.deletion_backlog},
        {"config_matches", l.config_matches},
        {"last_heard_ms_ago", r.last_heard_ago_ms ? Json(*r.last_heard_ago_ms) : Json(nullptr)},
        {"sequence_sent", l.sequence_sent},
        {"sequence_acknowledged", l.sequence_acknowledged},
        {"queue_depth", l.queue_depth},
        {"in_flight", l.in_flight},
        {"peer_entries", r.peer_entries},
        {"datagrams_sent", c.datagrams_sent},
        {"datagrams_received", c.datagrams_received},
        {"entries_sent", c.entries_sent},
        {"entries_received", c.entries_received},
        {"entries_resent", c.entries_resent},
        {"bulk_dumps_sent", c.bulk_dumps_sent},
        {"queue_overflows", c.queue_overflows},
        {"streams_received", c.streams_received},
        {"streams_asked", c.streams_asked},
        {"deletions_unrepaired", c.deletions_unrepaired},
        {"gaps_asked", c.gaps_asked},
        {"config_mismatches", c.config_mismatches},
        {"applied", r.applied},
        {"unbound", r.unbound},
        {"refused", r.refused},
        {"deleted", r.deleted},
        {"superseded", r.superseded},
        {"deletions_refused", r.deletions_refused},
        {"send_errors", r.send_errors},
        {"dropped", dropped},
    };
}

Json as_json(const control::report::ReplicationReport& r, const Moment& now) {
    Json peers = Json::array();
    for (const auto& p : r.peers)
        peers.push_back(peer_json(p));
    const auto& since = r.in_sync_since;
    return {
        {"as_of", iso8601_ms(now.wall)},
        {"as_of_monotonic_ms", monotonic_ms(now.monotonic)},
        {"local", r.local},
        {"in_sync", r.in_sync},
        {"in_sync_since", since ? Json(iso8601_ms(since->wall)) : Json(nullptr)},
        {"in_sync_since_monotonic_ms",
         since ? Json(monotonic_ms(since->monotonic)) : Json(nullptr)},
        {"reset_unknown_flows", r.reset_unknown_flows},
        {"events_lost", r.events_lost},
        {"unknown_senders", r.unknown_senders},
        {"peers", peers},
    };
}

// key: value lines; `dropped` on one line of its non-zero reasons.
void add_lines(std::string& out, const Json& j, const char* indent) {
    for (const auto& [key, value] : j.items()) {
        if (key == "dropped" || key == "peers")
            continue;
        out += fmt::format("{}{:<26} {}\n", indent, key,
                           value.is_string() ? value.get<std::string>()
                           : value.is_null() ? "-"
                                             : value.dump());
    }
    if (!j.contains("dropped"))
        return;
    std::string dropped;
    for (const auto& [reason, n] : j["dropped"].items())
        if (n.get<std::uint64_t>() != 0)
            dropped += fmt::format(" {}={}", reason, n.get<std::uint64_t>());
    out += fmt::format("{}{:<26}{}\n", indent, "dropped", dropped.empty() ? " none" : dropped);
}

std::string as_table(const Json& j) {
    std::string out;
    add_lines(out, j, "");
    for (const auto& p : j["peers"]) {
        out += fmt::format("\npeer {}\n", p["peer"].get<std::string>());
        add_lines(out, p, "  ");
    }
    return out;
}

} // namespace

control::AdminAnswer
replication_answer(const std::optional<control::report::ReplicationReport>& report, bool json,
                   const Moment& now) {
    if (!report) {
        const std::string message = "replication is not configured (no replication section)";
        return {false, json ? control::json_text({{"error", message}}) : message};
    }
    const Json j = as_json(*report, now);
    return {true, json ? control::json_text(j) : as_table(j)};
}

control::AdminAnswer replication_view(const Balancer& balancer, const AdminRequest& request) {
    return replication_answer(balancer.reports().parts().replication, request.json,
                              control::report::Moment::now());
}

} // namespace lb::app
