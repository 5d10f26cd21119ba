#include "modules/replication/testing/sync_model.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "modules/replication/peer_link.hpp"
#include "modules/replication/testing/sync_fixtures.hpp"

namespace lb::test::sync_model {

using namespace lb::control::sync;

namespace {

using Key = std::pair<std::uint32_t, std::uint16_t>; // client address and port

Key key_of(const FlowIdentity& f) {
    return {f.client.address, f.client.port};
}

// The protocol's clocks, shrunk so that a schedule of a few virtual seconds crosses every one of
// them many times: copies live copy_life_ms unless their owner refreshes them (as the bridge's
// sweep does, at a quarter of their life); the collector runs every collect_ms.
constexpr std::uint64_t copy_life_ms = 2000;
constexpr std::uint64_t refresh_after_ms = copy_life_ms / 4;
constexpr std::uint64_t collect_ms = 10;
constexpr std::uint64_t max_delay_ms = 30;
constexpr std::uint64_t quiet_ms = copy_life_ms + 1500;
constexpr std::size_t recorded_datagrams = 256;

LinkSettings link_settings(const Choice& next) {
    LinkSettings s;
    s.hello_interval_ms = 20;
    s.peer_timeout_ms = 100;
    s.resend_after_ms = 20;
    s.max_resend_interval_ms = 160;
    s.nack_resend_interval_ms = 2;
    static constexpr std::array<std::size_t, 3> windows{4, 16, 512};
    s.window = windows[next(3)];
    s.queue_limit = next(2) ? 65536 : 24; // small: overflows, new streams, kept deletions
    s.deletion_backlog_limit = 65536;
    static constexpr std::array<std::uint64_t, 4> starts{1, (1ULL << 31) - 40, (1ULL << 32) - 40,
                                                         (1ULL << 31) + 7};
    s.first_sequence = starts[next(4)];
    return s;
}

// What the model knows of a flow: who forwards it and the state it gave it last.
struct Flow {
    int owner = 0;
    std::uint8_t state = 3;
    std::uint64_t last_seen = 0;
    bool live = true;
    bool dying = false; // no longer refreshed by its owner: it expires on both nodes
};

struct Record {
    ConnectionEntry entry;
    std::uint64_t last_seen = 0;
};

struct Node {
    int id = 0;
    std::uint32_t address = 0;
    std::uint64_t epoch = 0;
    bool up = true;
    std::uint64_t down_until = 0;
    std::map<Key, Record> table;
    std::unique_ptr<PeerLink> link;
};

class Simulation {
  public:
    Simulation(const Choice& next) : next_(next), settings_(link_settings(next)) {
        for (int i = 0; i < 2; ++i) {
            nodes_[i].id = i;
            nodes_[i].address = 0xc0000201u + static_cast<std::uint32_t>(i); // 192.0.2.1, .2
            nodes_[i].epoch = 1000 + 1000 * static_cast<std::uint64_t>(i);
        }
        for (Node& n : nodes_)
            make_link(n);
    }

    Result run(unsigned rounds) {
        for (unsigned r = 0; r < rounds && result_.ok; ++r) {
            busy(500 + next_(2500));
            if (result_.ok)
                quiet();
        }
        return result_;
    }

  private:
    bool chance(std::uint32_t per_mille) { return next_(1000) < per_mille; }

    // LB_MODEL_TRACE=N: what happens to flow N (its client port), on stderr, for debugging a
    // failing seed.
    void trace(const Key& k, const std::string& what) const {
        static const long traced = [] {
            const char* v = std::getenv("LB_MODEL_TRACE");
            return v ? std::strtol(v, nullptr, 10) : -1;
        }();
        if (traced == k.second)
            std::fprintf(stderr, "%6llu flow %u: %s\n", static_cast<unsigned long long>(now_),
                         k.second, what.c_str());
    }

    void fail(const std::string& what) {
        if (result_.ok)
            result_.failure = fmt::format("at {} ms: {}", now_, what);
        result_.ok = false;
    }

    // ---- the nodes' tables, as the session bridge keeps them ----------------------------------

    ConnectionEntry entry_of(const Record& r) const {
        ConnectionEntry e = r.entry;
        const std::uint64_t age = now_ - std::min(now_, r.last_seen);
        e.remaining_ms = static_cast<std::uint32_t>(age >= copy_life_ms ? 0 : copy_life_ms - age);
        return e;
    }

    void make_link(Node& n) {
        PeerLink::Hooks h;
        h.current = [this, &n](const Entry& e) -> std::optional<Entry> {
            const auto it = n.table.find(key_of(std::get<ConnectionEntry>(e).flow));
            if (it == n.table.end() || now_ - it->second.last_seen >= copy_life_ms)
                return std::nullopt;
            return Entry{entry_of(it->second)};
        };
        h.dump = [this, &n](std::uint64_t& cursor, std::vector<Entry>& out) {
            auto it = n.table.begin();
            std::advance(it, static_cast<long>(std::min<std::uint64_t>(cursor, n.table.size())));
            for (int k = 0; k < 40 && it != n.table.end(); ++k, ++it, ++cursor)
                out.emplace_back(entry_of(it->second));
            return it != n.table.end();
        };
        h.apply = [this, &n](const Entry& e) { apply(n, e); };
        const Node& peer = nodes_[1 - n.id];
        n.link = std::make_unique<PeerLink>(
            settings_, n.epoch, node_id_v4(n.address), node_id_v4(peer.address),
            KeyRing{MessageKey(std::vector<std::uint8_t>(32, 3)), std::nullopt}, Digest{},
            std::move(h));
    }

    // The bridge's rules: the copy last seen latest wins; a deletion removes only a copy seen no
    // later than the peer saw it; an entry that has expired on its way is not installed.
    void apply(Node& n, const Entry& e) {
        if (const auto* c = std::get_if<ConnectionEntry>(&e)) {
            if (c->remaining_ms == 0)
                return;
            const std::uint64_t last_seen = now_ - (copy_life_ms - c->remaining_ms);
            const Key k = key_of(c->flow);
            const auto it = n.table.find(k);
            if (it != n.table.end() && it->second.last_seen > last_seen) {
                trace(k, fmt::format("node {} keeps its copy (seen {}) over one seen {}", n.id,
                                     it->second.last_seen, last_seen));
                return; // superseded
            }
            trace(k,
                  fmt::format("node {} installs state {} seen {}", n.id, c->tcp_state, last_seen));
            n.table[k] = Record{*c, last_seen};
            return;
        }
        const auto& d = std::get<DeletionEntry>(e);
        const Key k = key_of(d.flow);
        const auto it = n.table.find(k);
        if (it == n.table.end() ||
            it->second.last_seen > now_ - std::min<std::uint64_t>(now_, d.idle_ms)) {
            trace(k, fmt::format("node {} refuses a deletion (idle {})", n.id, d.idle_ms));
            return; // refused: we saw it later
        }
        trace(k, fmt::format("node {} applies a deletion (idle {})", n.id, d.idle_ms));
        const auto f = flows_.find(k);
        if (f != flows_.end() && f->second.live && f->second.owner == n.id) {
            // Idle for its whole life here too, it ends now rather than at our next collection.
            if (now_ - it->second.last_seen < copy_life_ms)
                fail(fmt::format("node {} deleted flow {} at its peer's word while forwarding it "
                                 "(last seen {} ms, the deletion's idle {} ms)",
                                 n.id, k.second, it->second.last_seen, d.idle_ms));
            f->second.live = false;
        }
        n.table.erase(it);
    }

    void collect(Node& n) {
        for (auto it = n.table.begin(); it != n.table.end();) {
            const std::uint64_t idle = now_ - it->second.last_seen;
            if (idle < copy_life_ms) {
                ++it;
                continue;
            }
            DeletionEntry d;
            d.flow = it->second.entry.flow;
            d.idle_ms = static_cast<std::uint32_t>(idle);
            trace(it->first, fmt::format("node {} expires it (idle {})", n.id, idle));
            n.link->queue(d);
            const auto f = flows_.find(it->first);
            if (f != flows_.end() && f->second.owner == n.id && f->second.live) {
                if (!f->second.dying)
                    fail(fmt::format("node {} expired flow {} it refreshes", n.id,
                                     it->first.second));
                f->second.live = false;
            }
            it = n.table.erase(it);
        }
    }

    // ---- what the owners do ---------------------------------------------------------------------

    void touch(Node& n, const Key& k, Flow& f, std::uint8_t state) {
        f.state = state;
        f.last_seen = now_;
        Record& r = n.table[k];
        r.entry.tcp_state = state;
        r.last_seen = now_;
        trace(k, fmt::format("node {} (owner) sets state {}", n.id, state));
        n.link->queue(entry_of(r));
    }

    void create(Node& n) {
        const auto number = next_flow_++;
        ConnectionEntry c = sample_connection(number);
        const Key k = key_of(c.flow);
        Flow f;
        f.owner = n.id;
        flows_[k] = f;
        n.table[k] = Record{c, now_};
        touch(n, k, flows_[k], 3);
        ++result_.flows_created;
    }

    void owners_act(bool busy) {
        if (busy && chance(60)) {
            Node& n = nodes_[next_(2)];
            if (n.up)
                create(n);
        }
        for (auto& [k, f] : flows_) {
            if (!f.live || f.dying)
                continue;
            Node& owner = nodes_[f.owner];
            if (!owner.up)
                continue;
            if (busy && chance(2)) {
                trace(k, "dying");
                f.dying = true; // the client went away: no more packets
                continue;
            }
            if (busy && chance(3))
                touch(owner, k, f, static_cast<std::uint8_t>(1 + next_(5)));
            else if (now_ - f.last_seen >= refresh_after_ms)
                touch(owner, k, f, f.state); // the sweep's refresh
        }
    }

    // ---- the wire and its adversary -------------------------------------------------------------

    struct InTransit {
        int to;
        std::vector<std::uint8_t> bytes;
    };

    void send(int from, std::vector<std::uint8_t> bytes) {
        ++result_.datagrams;
        recorded_.push_back({from, bytes});
        if (recorded_.size() > recorded_datagrams)
            recorded_.pop_front();
        const int to = 1 - from;
        if (faulty_) {
            if (now_ < cut_until_[from] || chance(loss_per_mille_))
                return;
            if (chance(30))
                wire_.emplace(now_ + 1 + next_(max_delay_ms), InTransit{to, bytes});
            wire_.emplace(now_ + 1 + next_(max_delay_ms), InTransit{to, std::move(bytes)});
        } else {
            wire_.emplace(now_ + 1, InTransit{to, std::move(bytes)});
        }
    }

    void inject() {
        if (recorded_.empty())
            return;
        const auto& [from, bytes] = recorded_[next_(static_cast<std::uint32_t>(recorded_.size()))];
        // Back to its sender (a reflection), or again to its receiver (a replay, perhaps of an
        // earlier run of either node).
        const int to = chance(500) ? from : 1 - from;
        wire_.emplace(now_ + 1, InTransit{to, bytes});
        ++result_.injected;
    }

    void deliver() {
        while (!wire_.empty() && wire_.begin()->first <= now_) {
            InTransit d = std::move(wire_.begin()->second);
            wire_.erase(wire_.begin());
            Node& n = nodes_[d.to];
            if (n.up)
                n.link->receive(d.bytes, now_);
        }
    }

    // ---- faults on the nodes --------------------------------------------------------------------

    void restart(Node& n) {
        Node& other = nodes_[1 - n.id];
        // Its flows move to the peer (VRRP's failover), with the state the peer holds of them;
        // those the peer does not hold yet are lost, as they would be.
        for (auto& [k, f] : flows_) {
            if (!f.live || f.owner != n.id)
                continue;
            const auto it = other.table.find(k);
            if (it == other.table.end()) {
                trace(k, fmt::format("lost: node {} restarts, node {} lacks it", n.id, other.id));
                f.live = false;
                ++result_.lost_at_failover;
                continue;
            }
            trace(k, fmt::format("node {} restarts: node {} owns it", n.id, other.id));
            f.owner = other.id;
            f.state = it->second.entry.tcp_state;
            f.last_seen = it->second.last_seen;
        }
        n.table.clear();
        n.up = false;
        n.down_until = now_ + next_(300);
        // A later epoch, or (a clock stepped back, no epoch file) an earlier one; never one
        // either node ran under before (lb's come from the clock in microseconds, or a counter).
        const std::uint64_t previous = n.epoch;
        do {
            n.epoch = chance(250) && previous > 2
                          ? 1 + next_(static_cast<std::uint32_t>(
                                    std::min<std::uint64_t>(previous - 1, 1u << 30)))
                          : previous + 1 + next_(1000);
        } while (!epochs_used_.insert(n.epoch).second);
        settings_.first_sequence = link_settings(next_).first_sequence;
        make_link(n);
        ++result_.restarts;
    }

    // ---- the checks -----------------------------------------------------------------------------

    bool quiescent(const Node& sender) const {
        const LinkStatus s = sender.link->status(now_);
        if (!sender.up || s.queue_depth != 0 || s.in_flight != 0 || s.dumping || s.stream_pending)
            return false;
        for (const auto& [at, d] : wire_)
            if (d.to != sender.id)
                return false;
        return true;
    }

    // "In sync" is a promise: with nothing on its way, every flow the peer forwards is here.
    void check_in_sync_is_true() {
        for (const Node& n : nodes_) {
            if (!n.up || n.link->status(now_).state != LinkState::in_sync)
                continue;
            const Node& peer = nodes_[1 - n.id];
            if (!quiescent(peer))
                continue;
            // Flows at the end of their life are left out: each node's collector ends them in
            // its own pass, and a copy's clock runs a transit time behind its owner's.
            const auto near_end = copy_life_ms - collect_ms - 2 * max_delay_ms;
            for (const auto& [k, f] : flows_)
                if (f.live && f.owner == peer.id && now_ - f.last_seen < near_end &&
                    peer.table.count(k) && !n.table.count(k))
                    return fail(fmt::format("node {} reports in sync without flow {} of node {} "
                                            "(last seen {}, dying {}); node {}: {}; node {}: {}",
                                            n.id, k.second, peer.id, f.last_seen, f.dying, n.id,
                                            describe(n), peer.id, describe(peer)));
        }
    }

    std::string describe(const Node& n) const {
        const LinkStatus s = n.link->status(now_);
        std::string dropped;
        for (std::size_t r = 0; r < s.counters.dropped.size(); ++r)
            if (s.counters.dropped[r] != 0)
                dropped += fmt::format(" {}={}", drop_reason_name(r), s.counters.dropped[r]);
        return fmt::format("state {}, sent {} acked {}, epoch {}, peer epoch {}, knows us {}, "
                           "stream sent {} received {}, "
                           "received through {}, held {}, asking {}, in flight {}, queue {}, "
                           "dumping {}, pending {}, dropped:{}",
                           link_state_name(s.state), s.sequence_sent, s.sequence_acknowledged,
                           s.epoch, s.peer_epoch, s.peer_knows_us, s.stream_sent, s.stream_received,
                           s.received_through, s.held_ahead, s.asking_for_stream, s.in_flight,
                           s.queue_depth, s.dumping, s.stream_pending, dropped);
    }

    void check_converged() {
        ++result_.quiet_checks;
        for (const Node& n : nodes_) {
            const LinkStatus s = n.link->status(now_);
            if (s.state != LinkState::in_sync)
                return fail(fmt::format("node {} is '{}' after a quiet period ({})", n.id,
                                        link_state_name(s.state), describe(n)));
            for (const auto& [k, f] : flows_) {
                if (!f.live)
                    continue;
                const auto it = n.table.find(k);
                if (it == n.table.end())
                    return fail(fmt::format("node {} lacks live flow {} of node {}; node 0: {}; "
                                            "node 1: {}",
                                            n.id, k.second, f.owner, describe(nodes_[0]),
                                            describe(nodes_[1])));
                if (it->second.entry.tcp_state != f.state)
                    return fail(fmt::format("node {} holds flow {} in state {}, its owner {} in {}",
                                            n.id, k.second, it->second.entry.tcp_state, f.owner,
                                            f.state));
            }
            for (const auto& [k, r] : n.table) {
                const auto f = flows_.find(k);
                if (f == flows_.end() || !f->second.live)
                    return fail(fmt::format("node {} still holds ended flow {}", n.id, k.second));
            }
        }
    }

    // ---- time -----------------------------------------------------------------------------------

    void step(bool busy) {
        ++now_;
        for (Node& n : nodes_)
            if (!n.up && now_ >= n.down_until)
                n.up = true;
        owners_act(busy);
        if (now_ % collect_ms == 0)
            for (Node& n : nodes_)
                if (n.up)
                    collect(n);
        for (Node& n : nodes_)
            if (n.up)
                for (auto& d : n.link->poll(now_))
                    send(n.id, std::move(d));
        deliver();
        check_in_sync_is_true();
    }

    void busy(std::uint64_t ms) {
        faulty_ = true;
        loss_per_mille_ = next_(4) == 0 ? 0 : next_(300);
        for (const std::uint64_t end = now_ + ms; now_ < end && result_.ok;) {
            if (chance(2)) {
                // A partition, one way or both, from short to longer than the copies' life.
                const std::uint64_t length =
                    1 + next_(static_cast<std::uint32_t>(copy_life_ms * 2));
                const int way = static_cast<int>(next_(3));
                for (int from = 0; from < 2; ++from)
                    if (way == 2 || way == from)
                        cut_until_[from] = now_ + length;
                ++result_.partitions;
            }
            if (chance(1)) {
                Node& n = nodes_[next_(2)];
                if (n.up)
                    restart(n);
            }
            if (chance(20))
                inject();
            step(true);
        }
    }

    void quiet() {
        faulty_ = false;
        cut_until_ = {0, 0};
        for (Node& n : nodes_) {
            if (!n.up)
                n.down_until = now_;
        }
        for (const std::uint64_t end = now_ + quiet_ms; now_ < end && result_.ok;)
            step(false);
        if (result_.ok)
            check_converged();
    }

    const Choice& next_;
    LinkSettings settings_;
    std::array<Node, 2> nodes_;
    std::map<Key, Flow> flows_;
    std::set<std::uint64_t> epochs_used_{1000, 2000};
    std::uint32_t next_flow_ = 1;
    std::uint64_t now_ = 0;
    bool faulty_ = false;
    std::uint32_t loss_per_mille_ = 0;
    std::array<std::uint64_t, 2> cut_until_{};
    std::multimap<std::uint64_t, InTransit> wire_;
    std::deque<std::pair<int, std::vector<std::uint8_t>>> recorded_;
    Result result_;
};

} // namespace

Result run(const Choice& next, unsigned rounds) {
    Simulation s(next);
    return s.run(rounds);
}

} // namespace lb::test::sync_model
