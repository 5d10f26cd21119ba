#include "modules/replication/node_replication.hpp"

#include <fmt/format.h>

#include "control/config/value_parsers.hpp"

namespace lb::control::replication {

using config::format_ipv4;

namespace {

// VRRP's "not preempting: ..." while the table is not in sync (a pair keeps its words).
std::optional<std::string> hold_text(const sync::SetState& s, std::size_t peers) {
    if (s.in_sync)
        return std::nullopt;
    return fmt::format("session table not in sync with the peer{}: {}", peers == 1 ? "" : "s",
                       s.reason);
}

void add_difference(BridgeCounters& to, const BridgeCounters& before, const BridgeCounters& after) {
    to.applied += after.applied - before.applied;
    to.unbound += after.unbound - before.unbound;
    to.refused += after.refused - before.refused;
    to.deleted += after.deleted - before.deleted;
    to.superseded += after.superseded - before.superseded;
    to.deletions_refused += after.deletions_refused - before.deletions_refused;
}

} // namespace

NodeReplication::NodeReplication(Setup setup, ReplicationIo io, std::uint64_t now_ms)
    : io_(std::move(io)), sync_after_ms_(setup.sync_after_ms), max_deferred_(setup.max_deferred),
      per_peer_(setup.peers.size()) {
    const auto hooks = [this](std::size_t peer) {
        sync::PeerLink::Hooks h;
        h.current = [this](const Entry& e) { return io_.current(e); };
        h.dump = [this](std::uint64_t& cursor, std::vector<Entry>& out) {
            return io_.dump(cursor, out);
        };
        // The table counts for the node; the difference each entry made is this peer's.
        h.apply = [this, peer](const Entry& e) {
            const BridgeCounters before = io_.counters();
            io_.apply(e);
            add_difference(per_peer_[peer].applied, before, io_.counters());
        };
        return h;
    };
    set_ = std::make_unique<sync::PeerSet>(setup.link, setup.epoch, setup.keys, setup.digest,
                                           setup.local, std::move(setup.peers), hooks);
    set_state_ = set_->update(now_ms);
    hold_reason_ = hold_text(set_state_, set_->size());
    io_.hold_preemption(hold_reason_);
}

NodeReplication::~NodeReplication() = default;

void NodeReplication::event(std::uint32_t word, std::optional<std::uint32_t> connection,
                            std::uint32_t now) {
    if (connection && sync_after_ms_ != 0 && deferred_.size() < max_deferred_) {
        io_.defer(*connection);
        deferred_.emplace_back(now + sync_after_ms_, *connection);
        return;
    }
    io_.describe(word, now, pending_);
}

void NodeReplication::settle_deferred(std::uint32_t now) {
    // In arrival order, so the front is always the next one due (wrap-safe comparison).
    while (!deferred_.empty() && static_cast<std::int32_t>(now - deferred_.front().first) >= 0) {
        io_.settle(deferred_.front().second, now, pending_);
        deferred_.pop_front();
    }
}

void NodeReplication::tick(std::uint64_t now_ms, std::uint32_t dataplane_now,
                           report::Moment moment) {
    // The events since the last tick are already in pending_, then what is due, then the sweep:
    // the order the peers receive them in.
    settle_deferred(dataplane_now);
    io_.sweep(dataplane_now, pending_);
    for (const auto& e : pending_)
        set_->queue(e);
    pending_.clear();
    set_->set_entries_held(io_.entries_held());
    send(set_->poll(now_ms));
    update_node_state(now_ms, moment);
}

void NodeReplication::receive(std::uint32_t from, std::span<const std::uint8_t> datagram,
                              std::uint64_t now_ms) {
    set_->receive(from, datagram, now_ms);
}

void NodeReplication::send(const std::vector<sync::PeerSet::Outgoing>& datagrams) {
    for (const auto& d : datagrams)
        if (!io_.send(d.peer, d.datagram))
            ++per_peer_[d.peer].send_errors; // the protocol resends what is not acknowledged
}

void NodeReplication::update_node_state(std::uint64_t now_ms, report::Moment moment) {
    const bool was_in_sync = set_state_.in_sync;
    set_state_ = set_->update(now_ms);
    if (set_state_.in_sync && !was_in_sync)
        in_sync_since_ = moment;
    else if (!set_state_.in_sync)
        in_sync_since_.reset();
    // A complete table (or the last complete one, its peers gone): an unknown flow is not ours.
    io_.reset_unknown_flows(set_state_.complete);
    for (std::size_t i = 0; i < set_->size(); ++i)
        log_peer(i, set_->status(i, now_ms));
    auto hold = hold_text(set_state_, set_->size());
    if (hold != hold_reason_) {
        hold_reason_ = hold;
        io_.hold_preemption(std::move(hold));
    }
}

void NodeReplication::log_peer(std::size_t peer, const sync::LinkStatus& s) {
    PerPeer& p = per_peer_[peer];
    if (s.state != p.last_state) {
        io_.log(fmt::format("peer {}: {} ({} entries applied)", format_ipv4(set_->address(peer)),
                            sync::link_state_name(s.state), p.applied.applied));
        p.last_state = s.state;
    }
    if (!s.config_matches && !p.config_mismatch_logged)
        io_.log(fmt::format("warning: the peer's configuration differs from ours (peer {}: "
                            "interfaces, services or real servers): its entries that name what "
                            "this node lacks are counted as unbound",
                            format_ipv4(set_->address(peer))));
    p.config_mismatch_logged = !s.config_matches;
}

} // namespace lb::control::replication
