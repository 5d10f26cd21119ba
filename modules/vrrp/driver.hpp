// VRRP on the control thread: the Router driven by an Asio timer, advertisements received from
// the workers' ring and sent through worker 0, the VIPs' ownership flipped in the dataplane on
// each transition, tracking fed from health checks, links and scripts, and the notifications.
// What to do and when (which links listen, the ownership before the notification, the next
// wake-up, the preemption hold's log, the shutdown's steps) is decided by a core without I/O
// (modules/vrrp/driver_core), unit tested on a fake clock (test/unit/vrrp_driver_test.cpp);
// this class does its I/O: the timer, the rings and mbufs, the links, the Balancer, the
// Notifier and the TrackingScripts.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "lb/balancer.hpp"
#include "modules/health/monitor.hpp"
#include "modules/vrrp/driver_core.hpp"
#include "modules/vrrp/notifier.hpp"
#include "modules/vrrp/tracker.hpp"

namespace lb::app {

class VrrpControl {
  public:
    // `down`: the real servers health checks hold down now (for service tracking).
    VrrpControl(boost::asio::io_context& io, Balancer& balancer,
                std::function<control::health::DownSet()> down);
    ~VrrpControl();

    void start();
    // After a reload was published: runs the new vrrp section (control::vrrp::Router::
    // reconfigure), its scripts and FIFO, and evaluates tracking with the new weights at once.
    // The snapshot already maps the addresses to the instances' slots; the router moves the
    // ownership flags of the instances that stop or start.
    void reconfigure();
    // Gives up mastership (priority-0 advertisements) and releases the VIPs; `done` runs once
    // worker 0 has had time to send them and the notify hooks have finished (waiting at most
    // control::vrrp::DriverCore::shutdown_hook_wait for them).
    void shutdown(std::function<void()> done);
    // Re-evaluates tracking (health changed, or periodically for links).
    void track();
    // Publishes the state for lbctl and metrics.
    void report();
    // The preemption hold (control::vrrp::Router::hold_preemption): while `reason` is set, no
    // instance preempts a running lower-priority master, and `lbctl vrrp` shows the reason;
    // nullopt releases it. For session replication, which may call it on every tick: the same
    // value again costs a comparison; each change logs one line (so a reason should not carry
    // figures that change by the second).
    void hold_preemption(std::optional<std::string> reason);

  private:
    // The core's I/O.
    control::vrrp::DriverIo driver_io();
    void wake_at(control::vrrp::Clock::time_point when);
    // The frames the workers queued for the control thread, to the core.
    void receive_frames(control::vrrp::Clock::time_point now);
    void send(std::uint8_t interface, std::vector<std::uint8_t> frame);
    // Each configured instance's dataplane ownership slot, as the last snapshot gave them.
    std::vector<std::uint8_t> slots() const;
    std::vector<control::vrrp::Mac> port_macs() const;
    bool link_up(std::size_t interface) const;
    void publish(const control::vrrp::Router& router);

    boost::asio::io_context& io_;
    Balancer& balancer_;
    std::function<control::health::DownSet()> down_;
    control::vrrp::Notifier notifier_;
    control::vrrp::DriverCore core_;
    std::unique_ptr<control::vrrp::TrackingScripts> scripts_;
    boost::asio::steady_timer timer_;
};

} // namespace lb::app
