// Session replication on the control thread: a UDP socket on this node's address of the
// replication interface (through the kernel exception path), the protocol's PeerSet (a PeerLink
// per peer, told apart by the sender's address), and the SessionBridge onto the live tables,
// driven by an Asio timer every few milliseconds: it drains the workers' event rings into the
// link's queue, sweeps the table for refreshes, sends what the link has to send, feeds it what
// arrives, and tells the rest of the node where it stands: the workers (reset unknown flows once
// in sync), VRRP (no preemption until in sync), lbctl and the metrics.
// What to do with the events, the datagrams and the peers' states (replication.sync_after's
// deferral, the send errors, the log, VRRP's hold, the workers' reset) is decided by a pure core
// (modules/replication/node_replication), unit tested on a fake clock and fake I/O
// (test/unit/replication_driver_test.cpp); this class does its I/O: the socket, the timer, the
// rings, the SessionBridge and the Balancer.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "lb/balancer.hpp"
#include "modules/replication/node_replication.hpp"
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
    // The core's I/O: the bridge, the socket, stderr, VRRP (`hold`) and the workers.
    control::replication::ReplicationIo
    core_io(std::function<void(std::optional<std::string>)> hold);
    void receive();
    void tick();
    void drain_events(std::uint32_t now);
    std::uint64_t now_ms() const;

    Balancer& balancer_;
    boost::asio::ip::udp::socket socket_;
    boost::asio::ip::udp::endpoint local_; // this node's address of the interface, and the port
    std::vector<boost::asio::ip::udp::endpoint> peers_; // in the PeerSet's order
    boost::asio::ip::udp::endpoint sender_;
    std::array<std::uint8_t, 2048> buffer_{};
    boost::asio::steady_timer timer_;
    control::replication::SessionBridge bridge_;
    std::unique_ptr<control::replication::NodeReplication> core_; // what to do, and when
    std::uint64_t bound_generation_ = ~std::uint64_t{0};
};

} // namespace lb::app
