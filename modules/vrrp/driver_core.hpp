// What the VRRP driver (modules/vrrp/driver.cpp) decides, without I/O (issue 22: a driver's
// decisions checked on a fake clock): it owns the Router and tells it which links listen
// (logging each change), feeds it tracking, flips an instance's VIP ownership before its
// transition is told anyone, logs the sync-held instances, dedups the preemption hold, picks the
// next wake-up (the poll period, or the router's deadline if sooner) and runs the shutdown's
// steps (priority-0 advertisements, 50 ms for worker 0 to send them, then the notify hooks'
// end, at most shutdown_hook_wait). Time comes in as arguments; the rings, mbufs, links, timer,
// notifier and scripts are the driver's, reached through the callbacks in DriverIo. Unit tested
// in test/unit/vrrp_driver_test.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/config/model.hpp"
#include "modules/health/monitor.hpp"
#include "modules/vrrp/router.hpp"

namespace lb::control::vrrp {

// What the core asks its driver to do. None calls back into the core synchronously.
struct DriverIo {
    // An advertisement or gratuitous ARP for worker 0 to send on interface index `interface`.
    Router::SendFrame send;
    // A unicast peer's MAC, if the neighbour table knows it.
    Router::ResolveMac resolve;
    // Whether interface index `interface` has link (true when the device cannot tell).
    std::function<bool(std::size_t interface)> link_up;
    // The dataplane's ownership flag of an instance's VIPs.
    std::function<void(std::uint8_t slot, bool master)> set_ownership;
    // The notify FIFO line and hook of a transition.
    std::function<void(const config::VrrpInstance& instance, State to, std::uint8_t priority,
                       const std::string& reason)>
        notify;
    // No notify hook running or queued.
    std::function<bool()> hooks_idle;
    // The real servers health checks hold down now, and whether a tracking script succeeds.
    std::function<health::DownSet()> down;
    std::function<bool(const std::string& script)> script_up;
    // The state changed: publish it for lbctl and the metrics.
    std::function<void(const Router& router)> publish;
    // Call wake() at `when`; replaces the wake-up asked before.
    std::function<void(Clock::time_point when)> wake_at;
    std::function<void(const std::string& line)> log; // for stderr, after "lb: "
};

class DriverCore {
  public:
    // After shutdown's priority-0 advertisements: worker 0 drains the control ring every poll,
    // so 50 ms is ample even when it naps.
    static constexpr std::chrono::milliseconds send_wait{50};
    // How often shutdown looks whether the notify hooks are done, and for how long at most.
    static constexpr std::chrono::milliseconds hook_check_period{20};
    static constexpr std::chrono::seconds shutdown_hook_wait{10};

    // `config`: the running configuration, which a reload replaces in place before calling
    // reconfigure(). `port_macs` and `slots` as Router's.
    DriverCore(const config::Config& config, std::vector<Mac> port_macs,
               std::vector<std::uint8_t> slots, DriverIo io);
    ~DriverCore();
    DriverCore(const DriverCore&) = delete;
    DriverCore& operator=(const DriverCore&) = delete;

    // The links as they are now (one still negotiating is not the master's silence), the
    // instances started, tracking evaluated, the state published, the first wake-up asked.
    void start(Clock::time_point now);
    // A frame of IP protocol 112 from interface index `interface` (the workers' ring).
    void receive(std::uint8_t interface, const std::uint8_t* frame, std::size_t length,
                 Clock::time_point now);
    // The wake-up asked through DriverIo::wake_at: the router's timers, then the next wake-up;
    // during shutdown, the next step of the shutdown. An early call does no harm.
    void wake(Clock::time_point now);
    // Re-evaluates tracking (health changed, a script's verdict changed, or periodically for
    // links) and which interfaces listen.
    void track(Clock::time_point now);
    // After a reload replaced the configuration: the router runs it, tracking is evaluated with
    // the new weights at once, and a shorter interval or a new instance wakes up on time.
    void reconfigure(std::vector<std::uint8_t> slots, Clock::time_point now);
    // Router::hold_preemption; the same value again costs a comparison, each change logs one
    // line.
    void hold_preemption(std::optional<std::string> reason);
    // Priority-0 advertisements and the VIPs released, then `done` once worker 0 had time to
    // send them and the notify hooks finished (or shutdown_hook_wait has passed).
    void shutdown(Clock::time_point now, std::function<void()> done);
    // Publishes the state through DriverIo::publish.
    void publish() const;

    bool stopping() const { return stopping_; }
    // A twentieth of the shortest advertisement interval, 1 ms to 10 ms.
    std::chrono::microseconds poll_period() const { return poll_period_; }
    // The poll period from `now`, or the router's next deadline if that is sooner.
    Clock::time_point next_wake(Clock::time_point now) const;
    const Router& router() const { return *router_; }

  private:
    void on_transition(const Transition& t);
    void set_poll_period();
    void arm(Clock::time_point now);
    void update_listening(Clock::time_point now);
    // Logs each instance a sync group starts or stops holding in BACKUP (a partial partition).
    void log_sync_held();
    void shutdown_step(Clock::time_point now);

    const config::Config& config_;
    DriverIo io_;
    std::unique_ptr<Router> router_;
    std::chrono::microseconds poll_period_{};
    std::vector<std::string> sync_held_; // as last logged, per instance
    std::vector<bool> listening_;        // per interface, as last told to the router
    bool stopping_ = false;
    // From shutdown() on: when to look at the hooks next, when to give up, whom to tell.
    Clock::time_point check_at_{};
    Clock::time_point give_up_{};
    std::function<void()> done_;
};

} // namespace lb::control::vrrp
