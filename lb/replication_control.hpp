// Session replication on the control thread: a UDP socket on this node's address of the
// replication interface (through the kernel exception path), the protocol's PeerLink, and the
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

#include "control/replication/session_bridge.hpp"
#include "control/sync/peer_link.hpp"
#include "lb/balancer.hpp"

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
    // A connection the collector expired (control thread): its deletion goes to the peer.
    void expired(std::uint32_t index, const dataplane::Connection& c);
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
    void send(const std::vector<std::vector<std::uint8_t>>& datagrams);
    void update_node_state(std::uint64_t now_ms);
    std::uint64_t now_ms() const;

    Balancer& balancer_;
    std::function<void(std::optional<std::string>)> hold_preemption_;
    boost::asio::ip::udp::socket socket_;
    boost::asio::ip::udp::endpoint local_; // this node's address of the interface, and the port
    boost::asio::ip::udp::endpoint peer_;
    boost::asio::ip::udp::endpoint sender_;
    std::array<std::uint8_t, 2048> buffer_{};
    boost::asio::steady_timer timer_;
    control::replication::SessionBridge bridge_;
    std::unique_ptr<control::sync::PeerLink> link_;
    std::uint64_t bound_generation_ = ~std::uint64_t{0};
    std::uint64_t send_errors_ = 0;
    std::vector<control::sync::Entry> pending_;
    // replication.sync_after: connection events waiting to be old enough (due, index).
    std::deque<std::pair<std::uint32_t, std::uint32_t>> deferred_;
    std::uint32_t sync_after_ms_ = 0;
    bool was_in_sync_ = false;
    std::optional<std::string> hold_reason_;
    bool config_mismatch_logged_ = false;
    control::sync::LinkState last_state_ = control::sync::LinkState::connecting;
};

} // namespace lb::app
