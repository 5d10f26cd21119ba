// VRRP on the control thread: the Router driven by an Asio timer, advertisements received from
// the workers' ring and sent through worker 0, the VIPs' ownership flipped in the dataplane on
// each transition, tracking fed from health checks, links and scripts, and the notifications.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "lb/balancer.hpp"
#include "modules/health/monitor.hpp"
#include "modules/vrrp/notifier.hpp"
#include "modules/vrrp/router.hpp"
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
    // worker 0 has had time to send them.
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

    // How long shutdown waits for notify hooks still running or queued.
    static constexpr std::chrono::seconds shutdown_hook_wait{10};

  private:
    void wait_for_hooks(control::vrrp::Clock::time_point give_up, std::function<void()> done);
    void poll();
    void arm();
    void send(std::uint8_t interface, std::vector<std::uint8_t> frame);
    // Logs each instance a sync group starts or stops holding in BACKUP (a partial partition).
    void log_sync_held();
    // Each configured instance's dataplane ownership slot, as the last snapshot gave them.
    std::vector<std::uint8_t> slots() const;
    void set_poll_period();
    // Tells the router which interfaces' links are up (can hear advertisements); logs changes.
    void update_listening(control::vrrp::Clock::time_point now);
    bool link_up(std::size_t interface) const;

    boost::asio::io_context& io_;
    Balancer& balancer_;
    std::function<control::health::DownSet()> down_;
    control::vrrp::Notifier notifier_;
    std::unique_ptr<control::vrrp::Router> router_;
    std::unique_ptr<control::vrrp::TrackingScripts> scripts_;
    boost::asio::steady_timer timer_;
    std::chrono::microseconds poll_period_;
    bool stopping_ = false;
    std::vector<std::string> sync_held_; // as last logged, per instance
    std::vector<bool> listening_;        // per interface, as last told to the router
};

} // namespace lb::app
