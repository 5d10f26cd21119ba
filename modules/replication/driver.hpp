// Session replication on the control thread: a UDP socket on this node's address of the
// replication interface (through the kernel exception path), the protocol's PeerSet (a PeerLink
// per peer, told apart by the sender's address), and the
// SessionBridge onto the live tables, driven by an Asio timer every few milliseconds: it drains
// the workers' event rings into the link's queue, sweeps the table for refreshes, sends what
// the link has to send, feeds it what arrives, and tells the rest of the node where it stands:
// the workers (reset unknown flows once in sync), VRRP (no preemption until in sync), lbctl and
// the metrics.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "lb/balancer.hpp"
#include "modules/replication/peer_set.hpp"
#include "modules/replication/session_bridge.hpp"

namespace lb::app {

class ReplicationControl {
  public:
    // `hold_preemption`: called on every change of whether VRRP may preempt (a reason while it
    // may not). Throws std::runtime_error with an operator's words when the socket or key
    // cannot be had.
    ReplicationControl(boost::asio::io_context& io, Balancer& balancer,
                       std::function<void(std::optional<std::string>)> hold_preemption);
    ~ReplicationControl();

    void start();
    // A connection the collector expired (control thread): its deletion goes to the peers.
    void expired(std::uint32_t index, const dataplane::Connection& c);
    // A reload read the keys again (README, "Rotating the replication key"): sign with
    // `current`, accept `previous` too while it is not empty. Throws std::invalid_argument
    // when a key is too short (the reload refuses it first).
    void set_keys(std::vector<std::uint8_t> current, std::vector<std::uint8_t> previous);
    // Publishes the state for lbctl and metrics.
    void report();

    static constexpr std::chrono::milliseconds period{5};

  private:
    void receive();
    void tick();
    void drain_events(std::uint32_t now);
    void settle_deferred(std::uint32_t now);
    // Beyond this many deferred connections, new ones are sent at once (memory stays bounded).
    static constexpr std::size_t max_deferred = 4'000'000;
    void send(const std::vector<control::sync::PeerSet::Outgoing>& datagrams);
    void update_node_state(std::uint64_t now_ms);
    std::uint64_t now_ms() const;

    Balancer& balancer_;
    std::function<void(std::optional<std::string>)> hold_preemption_;
    boost::asio::ip::udp::socket socket_;
    boost::asio::ip::udp::endpoint local_; // this node's address of the interface, and the port
    std::vector<boost::asio::ip::udp::endpoint> peers_; // in the PeerSet's order
    boost::asio::ip::udp::endpoint sender_;
    std::array<std::uint8_t, 2048> buffer_{};
    boost::asio::steady_timer timer_;
    control::replication::SessionBridge bridge_;
    std::unique_ptr<control::sync::PeerSet> set_;
    // Per peer: what its entries did here (the bridge's counters, split by the apply hook),
    // the kernel's refusals, and what was last logged of it.
    struct PerPeer {
        control::replication::BridgeCounters applied;
        std::uint64_t send_errors = 0;
        control::sync::LinkState last_state = control::sync::LinkState::connecting;
        bool config_mismatch_logged = false;
    };
    std::vector<PerPeer> per_peer_;
    std::uint64_t bound_generation_ = ~std::uint64_t{0};
    std::vector<control::sync::Entry> pending_;
    // replication.sync_after: connection events waiting to be old enough (due, index).
    std::deque<std::pair<std::uint32_t, std::uint32_t>> deferred_;
    std::uint32_t sync_after_ms_ = 0;
    control::sync::SetState set_state_;
    // When the node's table last became in sync (lbctl replication: in_sync_since), to order it
    // against VRRP's transitions.
    std::optional<control::report::Moment> in_sync_since_;
    std::optional<std::string> hold_reason_;
};

} // namespace lb::app
