// What the replication driver decides, as pure logic on an explicit clock (issue 22: a driver's
// decisions checked on a fake clock and fake I/O). It owns the protocol's PeerSet and feeds it
// this node's changes: the workers' events (holding connections back until replication.sync_after
// has passed, up to max_deferred of them), the refresh sweep's entries and the collector's
// deletions. It sends what the set has to send and counts the kernel's refusals per peer, hands
// what arrives to the peer it came from (the set ignores and counts unknown senders), counts
// per peer what its entries did to the table, and tells the rest of the node where it stands:
// a log line per change of a peer's state and once per configuration mismatch, VRRP's
// preemption hold while not in sync, when the node became in sync, and whether the workers may
// reset unknown flows. No sockets, no rings, no DPDK: the driver (modules/replication/driver.cpp)
// does the I/O through ReplicationIo, and the live tables (the SessionBridge) are reached
// through the same callbacks.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "control/report/moment.hpp"
#include "modules/replication/bridge_counters.hpp"
#include "modules/replication/peer_set.hpp"

namespace lb::control::replication {

using sync::Entry;

// The core's I/O. None calls back into the core. Times given to the table are the dataplane
// clock's (milliseconds, wrapping), the one its entries' timeouts count on.
struct ReplicationIo {
    // The live tables (the SessionBridge): the PeerLink's hooks...
    std::function<std::optional<Entry>(const Entry&)> current;
    std::function<bool(std::uint64_t& cursor, std::vector<Entry>& out)> dump;
    std::function<void(const Entry&)> apply;
    // ... what the table did with everything applied so far (the core counts per peer)...
    std::function<BridgeCounters()> counters;
    // ... a worker's event as entries, a connection held back (sync_after) and released...
    std::function<void(std::uint32_t event, std::uint32_t now, std::vector<Entry>& out)> describe;
    std::function<void(std::uint32_t connection)> defer;
    std::function<void(std::uint32_t connection, std::uint32_t now, std::vector<Entry>& out)>
        settle;
    // ... the refresh sweep's share of this tick, and how many entries the table holds.
    std::function<void(std::uint32_t now, std::vector<Entry>& out)> sweep;
    std::function<std::uint64_t()> entries_held;

    // The wire: a datagram to peer number `peer` (false: the kernel refused it).
    std::function<bool(std::size_t peer, std::span<const std::uint8_t> datagram)> send;
    std::function<void(const std::string& line)> log; // for stderr, after "lb: replication: "
    // VRRP: a reason not to preempt while the table is not in sync, nullopt once it is. Called
    // at the start and on every change.
    std::function<void(std::optional<std::string> reason)> hold_preemption;
    // The workers: whether a segment of no known flow is to be reset (the table is complete).
    // Called every tick.
    std::function<void(bool reset)> reset_unknown_flows;
};

class NodeReplication {
  public:
    struct Setup {
        sync::LinkSettings link;
        sync::KeyRing keys;
        std::uint64_t epoch = 0; // this run's
        sync::Digest digest{};
        std::uint32_t local = 0;            // this node's replication address (host order)
        std::vector<std::uint32_t> peers{}; // theirs, in the order `peer` numbers them
        std::uint32_t sync_after_ms = 0;    // replication.sync_after (0: send at once)
        // Beyond this many deferred connections, new ones are sent at once (memory stays
        // bounded).
        std::size_t max_deferred = 4'000'000;
    };

    // Tells VRRP to hold (nothing can be in sync before a peer is heard).
    NodeReplication(Setup setup, ReplicationIo io, std::uint64_t now_ms);
    ~NodeReplication();
    NodeReplication(const NodeReplication&) = delete; // the set's hooks point back here
    NodeReplication& operator=(const NodeReplication&) = delete;

    // A worker's event (dataplane/sync_events.hpp, a word only the table reads); `connection`:
    // the connection's index when it is a connection's, the kind sync_after holds back.
    void event(std::uint32_t word, std::optional<std::uint32_t> connection, std::uint32_t now);
    // A change of the table to send as it is (the collector's deletions).
    void queue(const Entry& entry) { set_->queue(entry); }
    // Every few milliseconds: the deferred connections now due, the sweep, what the peers are
    // to be sent, and where the node stands. `now_ms`: the protocol's clock (monotonic);
    // `dataplane_now`: the table's; `moment`: now, as lbctl shows it.
    void tick(std::uint64_t now_ms, std::uint32_t dataplane_now, report::Moment moment);
    // A datagram from `from` (an IPv4 address, host order).
    void receive(std::uint32_t from, std::span<const std::uint8_t> datagram, std::uint64_t now_ms);

    // A reload: the configuration's digest, the keys (sign with `current`, accept `previous`).
    void set_digest(const sync::Digest& digest) { set_->set_digest(digest); }
    void set_keys(const sync::KeyRing& keys) { set_->set_keys(keys); }

    // For lbctl and the metrics.
    const sync::PeerSet& peers() const { return *set_; }
    const BridgeCounters& applied(std::size_t peer) const { return per_peer_[peer].applied; }
    std::uint64_t send_errors(std::size_t peer) const { return per_peer_[peer].send_errors; }
    const sync::SetState& state() const { return set_state_; }
    // When the node's table last became in sync (lbctl replication: in_sync_since), to order it
    // against VRRP's transitions.
    const std::optional<report::Moment>& in_sync_since() const { return in_sync_since_; }
    std::size_t deferred() const { return deferred_.size(); }

  private:
    void settle_deferred(std::uint32_t now);
    void send(const std::vector<sync::PeerSet::Outgoing>& datagrams);
    void update_node_state(std::uint64_t now_ms, report::Moment moment);
    void log_peer(std::size_t peer, const sync::LinkStatus& status);

    ReplicationIo io_;
    std::uint32_t sync_after_ms_;
    std::size_t max_deferred_;
    std::unique_ptr<sync::PeerSet> set_;
    // Per peer: what its entries did here (the table's counters, split by the apply hook), the
    // kernel's refusals, and what was last logged of it.
    struct PerPeer {
        BridgeCounters applied;
        std::uint64_t send_errors = 0;
        sync::LinkState last_state = sync::LinkState::connecting;
        bool config_mismatch_logged = false;
    };
    std::vector<PerPeer> per_peer_;
    std::vector<Entry> pending_; // this tick's entries, reused
    // replication.sync_after: connection events waiting to be old enough (due, index).
    std::deque<std::pair<std::uint32_t, std::uint32_t>> deferred_;
    sync::SetState set_state_;
    std::optional<report::Moment> in_sync_since_;
    std::optional<std::string> hold_reason_;
};

} // namespace lb::control::replication
