#include "modules/replication/driver.hpp"

#include <chrono>

#include <boost/asio/buffer.hpp>
#include <fmt/format.h>
#include <rte_ring.h>

#include "control/config/key_file.hpp"
#include "control/config/value_parsers.hpp"
#include "dataplane/sync_events.hpp"
#include "modules/replication/config_digest.hpp"
#include "modules/replication/epoch_store.hpp"

namespace lb::app {

namespace sync = control::sync;
using boost::asio::ip::udp;
using control::config::format_ipv4;

namespace {

const control::config::Replication& settings_of(const Balancer& b) {
    return *b.config().replication;
}

udp::endpoint endpoint_of(std::uint32_t address, std::uint16_t port) {
    return {boost::asio::ip::address_v4(address), port};
}

std::uint32_t local_address(const Balancer& b) {
    const auto& r = settings_of(b);
    for (const auto& i : b.config().interfaces)
        if (i.name == r.interface)
            return i.address;
    throw std::runtime_error(fmt::format("replication: no interface named '{}'", r.interface));
}

// This run's epoch: larger than the last one's, by the epoch file, whatever the wall clock says
// (modules/replication/epoch_store.hpp).
std::uint64_t boot_epoch(const control::config::Replication& r) {
    const auto wall_us =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    const auto choice = control::replication::next_epoch(r.epoch_file, wall_us);
    if (choice.warning)
        fmt::print(stderr, "lb: replication: warning: epoch file: {}\n", *choice.warning);
    return choice.epoch;
}

sync::KeyRing key_ring(std::vector<std::uint8_t> current, std::vector<std::uint8_t> previous) {
    sync::KeyRing keys{sync::MessageKey(std::move(current)), std::nullopt};
    if (!previous.empty())
        keys.previous.emplace(std::move(previous));
    return keys;
}

// VRRP's "not preempting: ..." while the table is not in sync (a pair keeps its words).
std::optional<std::string> hold_text(const sync::SetState& s, std::size_t peers) {
    if (s.in_sync)
        return std::nullopt;
    return fmt::format("session table not in sync with the peer{}: {}", peers == 1 ? "" : "s",
                       s.reason);
}

} // namespace

ReplicationControl::ReplicationControl(boost::asio::io_context& io, Balancer& balancer,
                                       std::function<void(std::optional<std::string>)> hold)
    : balancer_(balancer), hold_preemption_(std::move(hold)), socket_(io), timer_(io),
      bridge_(balancer.context()) {
    const auto& r = settings_of(balancer);
    local_ = endpoint_of(local_address(balancer), r.port);
    for (const std::uint32_t peer : r.peers)
        peers_.push_back(endpoint_of(peer, r.port));
    per_peer_.resize(r.peers.size());
    sync_after_ms_ = static_cast<std::uint32_t>(r.sync_after.count());
    sync::LinkSettings settings;
    settings.cluster_id = r.cluster_id;
    auto keys = control::config::read_replication_keys(r);
    const auto now = [this] { return balancer_.context().clock.now_ms(); };
    const auto hooks = [this, now](std::size_t peer) {
        sync::PeerLink::Hooks h;
        h.current = [this, now](const sync::Entry& e) { return bridge_.current(e, now()); };
        h.dump = [this, now](std::uint64_t& cursor, std::vector<sync::Entry>& out) {
            return bridge_.dump(cursor, out, now());
        };
        // The bridge counts for the node; the difference each entry made is this peer's.
        h.apply = [this, now, peer](const sync::Entry& e) {
            const auto before = bridge_.counters();
            bridge_.apply(e, now());
            const auto& after = bridge_.counters();
            auto& mine = per_peer_[peer].applied;
            mine.applied += after.applied - before.applied;
            mine.unbound += after.unbound - before.unbound;
            mine.refused += after.refused - before.refused;
            mine.deleted += after.deleted - before.deleted;
            mine.superseded += after.superseded - before.superseded;
            mine.deletions_refused += after.deletions_refused - before.deletions_refused;
        };
        return h;
    };
    set_ = std::make_unique<sync::PeerSet>(
        settings, boot_epoch(r), key_ring(std::move(keys.current), std::move(keys.previous)),
        sync::config_digest(balancer.config()), local_address(balancer), r.peers, hooks);
    boost::system::error_code ec;
    socket_.open(udp::v4(), ec);
    if (!ec)
        socket_.set_option(udp::socket::reuse_address(true), ec);
    // Room for a window's worth of datagrams (512 of 1472 bytes) in each direction: a burst
    // (a bulk dump, a flood of new connections) must not overflow the kernel's default buffer
    // of ~140 datagrams and turn into resends. The kernel caps this at net.core.rmem_max
    // unless we are privileged (we are: DPDK needs root).
    if (!ec)
        socket_.set_option(boost::asio::socket_base::receive_buffer_size(4 << 20), ec);
    if (!ec)
        socket_.set_option(boost::asio::socket_base::send_buffer_size(4 << 20), ec);
    if (!ec)
        socket_.bind(local_, ec);
    if (ec)
        throw std::runtime_error(fmt::format(
            "replication: cannot listen on {}:{}: {} (does interface '{}' have its kernel "
            "exception path?)",
            local_.address().to_string(), r.port, ec.message(), r.interface));
    socket_.non_blocking(true, ec);
    set_state_ = set_->update(now_ms());
    hold_reason_ = hold_text(set_state_, set_->size());
    hold_preemption_(hold_reason_);
}

ReplicationControl::~ReplicationControl() = default;

std::uint64_t ReplicationControl::now_ms() const {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

void ReplicationControl::start() {
    std::string peers;
    for (const auto& p : peers_)
        peers +=
            fmt::format("{}{}:{}", peers.empty() ? "" : ", ", p.address().to_string(), p.port());
    fmt::print(stderr, "lb: replication: {}:{} <-> {}, cluster {}, epoch {}\n",
               local_.address().to_string(), local_.port(), peers,
               settings_of(balancer_).cluster_id, set_->status(0, now_ms()).epoch);
    receive();
    tick();
    report();
}

void ReplicationControl::receive() {
    socket_.async_receive_from(
        boost::asio::buffer(buffer_), sender_,
        [this](const boost::system::error_code& ec, std::size_t n) {
            if (ec == boost::asio::error::operation_aborted)
                return;
            if (!ec && sender_.address().is_v4())
                set_->receive(sender_.address().to_v4().to_uint(), {buffer_.data(), n}, now_ms());
            receive();
        });
}

void ReplicationControl::drain_events(std::uint32_t now) {
    dataplane::Dataplane& dp = balancer_.dataplane();
    std::uint32_t words[512];
    for (std::size_t w = 0; w < dp.worker_count(); ++w) {
        rte_ring* ring = dp.sync_events(w);
        if (!ring)
            continue;
        // Bounded per tick, so a flood of new connections cannot stall the control loop; what
        // stays in the ring waits for the next tick.
        for (int round = 0; round < 32; ++round) {
            const unsigned n =
                rte_ring_sc_dequeue_burst_elem(ring, words, sizeof(words[0]), 512, nullptr);
            for (unsigned i = 0; i < n; ++i) {
                if (sync_after_ms_ != 0 && deferred_.size() < max_deferred &&
                    dataplane::SyncEvent::kind(words[i]) == dataplane::SyncEventKind::connection) {
                    const std::uint32_t index = dataplane::SyncEvent::index(words[i]);
                    bridge_.defer(index);
                    deferred_.emplace_back(now + sync_after_ms_, index);
                    continue;
                }
                bridge_.describe_event(words[i], now, pending_);
            }
            if (n < 512)
                break;
        }
    }
}

void ReplicationControl::settle_deferred(std::uint32_t now) {
    // In arrival order, so the front is always the next one due (wrap-safe comparison).
    while (!deferred_.empty() && static_cast<std::int32_t>(now - deferred_.front().first) >= 0) {
        bridge_.settle(deferred_.front().second, now, pending_);
        deferred_.pop_front();
    }
}

void ReplicationControl::expired(std::uint32_t index, const dataplane::Connection& c) {
    if (auto d = bridge_.expired(index, c, balancer_.context().clock.now_ms()))
        set_->queue(*d);
}

void ReplicationControl::set_keys(std::vector<std::uint8_t> current,
                                  std::vector<std::uint8_t> previous) {
    set_->set_keys(key_ring(std::move(current), std::move(previous)));
}

void ReplicationControl::send(const std::vector<sync::PeerSet::Outgoing>& datagrams) {
    for (const auto& d : datagrams) {
        boost::system::error_code ec;
        socket_.send_to(boost::asio::buffer(d.datagram), peers_[d.peer], 0, ec);
        if (ec)
            ++per_peer_[d.peer].send_errors; // the protocol resends what is not acknowledged
    }
}

void ReplicationControl::tick() {
    const std::uint64_t now = now_ms();
    const std::uint32_t dataplane_now = balancer_.context().clock.now_ms();
    if (balancer_.snapshot().generation != bound_generation_) {
        bridge_.bind(balancer_.snapshot());
        bound_generation_ = balancer_.snapshot().generation;
        set_->set_digest(sync::config_digest(balancer_.config()));
    }
    pending_.clear();
    drain_events(dataplane_now);
    settle_deferred(dataplane_now);
    // The whole table about every two seconds.
    const std::uint32_t budget = balancer_.context().connections->capacity() /
                                     static_cast<std::uint32_t>(2000 / period.count()) +
                                 1;
    bridge_.sweep(budget, dataplane_now, pending_);
    for (const auto& e : pending_)
        set_->queue(e);
    set_->set_entries_held(balancer_.context().connections->size());
    send(set_->poll(now));
    update_node_state(now);
    timer_.expires_after(period);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec)
            tick();
    });
}

void ReplicationControl::update_node_state(std::uint64_t now) {
    const bool was_in_sync = set_state_.in_sync;
    set_state_ = set_->update(now);
    if (set_state_.in_sync && !was_in_sync)
        in_sync_since_ = control::report::Moment::now();
    else if (!set_state_.in_sync)
        in_sync_since_.reset();
    // A complete table (or the last complete one, its peers gone): an unknown flow is not ours.
    balancer_.context().reset_unknown_flows.store(set_state_.complete, std::memory_order_relaxed);
    for (std::size_t i = 0; i < set_->size(); ++i) {
        const sync::LinkStatus s = set_->status(i, now);
        PerPeer& p = per_peer_[i];
        if (s.state != p.last_state) {
            fmt::print(stderr, "lb: replication: peer {}: {} ({} entries applied)\n",
                       format_ipv4(set_->address(i)), sync::link_state_name(s.state),
                       p.applied.applied);
            p.last_state = s.state;
        }
        if (!s.config_matches && !p.config_mismatch_logged)
            fmt::print(stderr,
                       "lb: replication: warning: the peer's configuration differs from ours "
                       "(peer {}: interfaces, services or real servers): its entries that name "
                       "what this node lacks are counted as unbound\n",
                       format_ipv4(set_->address(i)));
        p.config_mismatch_logged = !s.config_matches;
    }
    auto hold = hold_text(set_state_, set_->size());
    if (hold != hold_reason_) {
        hold_reason_ = hold;
        hold_preemption_(hold);
    }
}

void ReplicationControl::report() {
    const std::uint64_t now = now_ms();
    control::report::ReplicationReport r;
    r.local = fmt::format("{}:{}", local_.address().to_string(), local_.port());
    for (std::size_t i = 0; i < set_->size(); ++i) {
        control::report::ReplicationPeerReport p;
        p.peer = fmt::format("{}:{}", peers_[i].address().to_string(), peers_[i].port());
        p.link = set_->status(i, now);
        if (p.link.last_heard_ms)
            p.last_heard_ago_ms = now - *p.link.last_heard_ms;
        p.peer_entries = p.link.peer_entries_held;
        const auto& c = per_peer_[i].applied;
        p.applied = c.applied;
        p.unbound = c.unbound;
        p.refused = c.refused;
        p.deleted = c.deleted;
        p.superseded = c.superseded;
        p.deletions_refused = c.deletions_refused;
        p.send_errors = per_peer_[i].send_errors;
        r.peers.push_back(std::move(p));
    }
    r.in_sync = set_state_.in_sync;
    r.in_sync_since = in_sync_since_;
    r.unknown_senders = set_->unknown_senders();
    r.reset_unknown_flows = balancer_.context().reset_unknown_flows.load();
    // events_lost, the workers' counter, is added up by the stats view (add_module_parts).
    balancer_.reports().publish(
        "replication", [r = std::move(r)](control::report::StatsView& v) { v.replication = r; });
}

} // namespace lb::app
