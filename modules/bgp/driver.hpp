// VIP announcement over BGP on the control thread (README, "Scaling out"; docs/design.md, "BGP:
// lb writes BIRD's configuration"). lb decides which VIPs to announce (modules/bgp/announcement)
// and writes BIRD's whole configuration file (modules/bgp/bird_config) atomically, then asks
// BIRD to load it over BIRD's control socket (`configure "PATH"`), non-blocking on the Asio
// loop: while BIRD is not running it retries every second, and every (re)connection reloads the
// file, so lb and BIRD may start in either order. The same connection polls `show protocols`
// and `show bfd sessions` every second for lbctl bgp and the metrics.
// What to say to BIRD and when (modules/bgp/bird_session) and the clean shutdown's steps
// (modules/bgp/shutdown_sequence) are pure state machines, unit tested on a fake clock
// (test/unit/bgp_driver_test.cpp); this class does their I/O: the socket, the timers, the files,
// the Balancer.
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "lb/balancer.hpp"
#include "modules/bgp/announcement.hpp"
#include "modules/bgp/bird_session.hpp"
#include "modules/bgp/shutdown_sequence.hpp"
#include "modules/health/monitor.hpp"

namespace lb::app {

class BgpControl {
  public:
    // What health checks say now: the servers held down, and every check's status.
    struct HealthNow {
        control::health::DownSet down;
        std::vector<control::health::HealthStatus> statuses;
    };
    using HealthView = std::function<HealthNow()>;

    BgpControl(boost::asio::io_context& io, Balancer& balancer, HealthView health);
    ~BgpControl();

    // Writes the configuration (announcing nothing not yet decided) and connects to BIRD.
    void start();
    // Decides again (health changed, a reload applied, the node drained): a changed decision is
    // written and BIRD reloads it.
    void update();
    // lbctl drain-node: withdraw every VIP (true) or announce again by the rule (false), kept
    // in bgp.drain_state_file for the next start. Returns what the operator is told, and why
    // the change will not survive a restart (empty: it will).
    struct DrainOutcome {
        std::string message;
        std::string not_kept;
    };
    DrainOutcome set_drained(bool drained);
    // Clean shutdown: withdraws every VIP, waits for BIRD to confirm (bounded by
    // bgp.drain_timeout), lets the router settle, then serves established connections until
    // none are left or drain_timeout has passed since the start, then calls `done`.
    void shutdown(std::function<void()> done);

  private:
    // The session's I/O: the socket, and stderr.
    control::bgp::BirdIo bird_io();
    void connect(const std::string& socket);
    void read();
    void send(const std::string& command);
    // After every event the session saw: its next deadline armed, the report published.
    void after_event();
    void schedule_poll();
    void publish();
    bool write_file(const std::string& text);
    void restore_drain_state();
    void keep_drain_state();
    void log_changes(const std::vector<control::bgp::VipDecision>& next);
    void shutdown_step();

    // The running configuration's bgp section, or the last one while a reload removed it.
    const control::config::Bgp& settings() const { return settings_; }

    boost::asio::io_context& io_;
    Balancer& balancer_;
    HealthView health_;
    control::config::Bgp settings_;
    boost::asio::local::stream_protocol::socket socket_;
    std::array<char, 4096> chunk_{};
    control::bgp::BirdSession session_; // what to say to BIRD and when
    boost::asio::steady_timer poll_timer_;
    boost::asio::steady_timer wake_timer_; // the session's next deadline: a retry, an answer due
    boost::asio::steady_timer shutdown_timer_;

    std::vector<control::bgp::VipDecision> decisions_;
    std::string text_; // the file as last written
    bool drained_ = false;
    std::optional<std::chrono::system_clock::time_point> drained_since_; // nullopt: not known
    std::string drain_file_;     // where the drained state was last kept: a reload may move it
    std::string drain_not_kept_; // why that file does not hold the running state (empty: it does)
    std::optional<control::bgp::ShutdownSequence> shutdown_; // from shutdown() on
    std::function<void()> shutdown_done_;
};

} // namespace lb::app
