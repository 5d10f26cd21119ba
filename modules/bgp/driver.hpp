// VIP announcement over BGP on the control thread (README, "Scaling out"; docs/design.md, "BGP:
// lb writes BIRD's configuration"). lb decides which VIPs to announce (modules/bgp/announcement)
// and writes BIRD's whole configuration file (modules/bgp/bird_config) atomically, then asks
// BIRD to load it over BIRD's control socket (`configure "PATH"`), non-blocking on the Asio
// loop: while BIRD is not running it retries every second, and every (re)connection reloads the
// file, so lb and BIRD may start in either order. The same connection polls `show protocols`
// and `show bfd sessions` every second for lbctl bgp and the metrics.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "lb/balancer.hpp"
#include "modules/bgp/announcement.hpp"
#include "modules/bgp/bird_reply.hpp"
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
    enum class Link { idle, connecting, greeting, ready };
    enum class Ask { configure, protocols, bfd };
    struct InFlight {
        Ask ask;
        std::uint64_t generation = 0;
        std::vector<std::uint32_t> vips; // configure: what that file announces
    };

    void connect();
    void on_connected(const boost::system::error_code& ec);
    void read();
    void on_reply(const control::bgp::BirdReply& reply);
    void send_next();
    void lost(const std::string& why);
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
    boost::asio::steady_timer retry_timer_;
    boost::asio::steady_timer poll_timer_;
    boost::asio::steady_timer answer_timer_; // a command BIRD does not answer ends the link
    boost::asio::steady_timer shutdown_timer_;
    std::array<char, 4096> chunk_{};
    std::string received_;
    Link link_ = Link::idle;
    std::string socket_path_; // the one connected to: a reload that changes it reconnects
    bool unreachable_logged_ = false;
    // When the link last came up (ready) or went down, and why it is down: lbctl bgp says
    // "down since ... (N s): why". Down from the start until BIRD first greets lb.
    control::report::Moment link_since_ = control::report::Moment::now();
    std::string link_down_reason_;
    std::optional<InFlight> in_flight_;
    bool want_configure_ = false;
    bool want_protocols_ = false;
    bool want_bfd_ = false;

    std::vector<control::bgp::VipDecision> decisions_;
    std::string text_;                   // the file as last written
    std::vector<std::uint32_t> written_; // the VIPs it announces
    std::uint64_t generation_ = 0;       // of text_
    std::uint64_t confirmed_generation_ = 0;
    std::vector<std::uint32_t> confirmed_; // the VIPs of the file BIRD last confirmed
    bool write_failed_ = false;
    bool drained_ = false;
    std::optional<std::chrono::system_clock::time_point> drained_since_; // nullopt: not known
    std::string drain_file_;     // where the drained state was last kept: a reload may move it
    std::string drain_not_kept_; // why that file does not hold the running state (empty: it does)
    bool shutting_down_ = false;
    std::function<void()> shutdown_done_;
    std::chrono::steady_clock::time_point shutdown_start_;
    std::optional<std::chrono::steady_clock::time_point> withdrawn_at_;

    std::vector<control::bgp::ProtocolRow> protocols_;
    std::vector<control::bgp::BfdRow> bfd_;
    std::string bird_error_;
    std::string bird_version_;
    std::uint64_t reconfigurations_ = 0;
    std::uint64_t bird_errors_ = 0;
};

} // namespace lb::app
