#include "lb/control_loop.hpp"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "control/admin_socket.hpp"
#include "control/json_text.hpp"
#include "control/neighbour_resolver.hpp"
#include "control/report/table_collector.hpp"
#include "lb/admin_commands.hpp"
#include "lb/config_reloader.hpp"
#include "lb/metrics.hpp"
#include "lb/readiness.hpp"
#include "lb/reload_plan.hpp"
#include "lb/service_notifier.hpp"
#include "modules/bgp/driver.hpp"
#include "modules/health/monitor.hpp"
#include "modules/replication/driver.hpp"
#include "modules/vrrp/driver.hpp"

namespace lb::app {

namespace {

// Runs `task` every `period` on `timer` until the loop stops.
void every(boost::asio::steady_timer& timer, std::chrono::milliseconds period,
           std::function<void()> task) {
    timer.expires_after(period);
    timer.async_wait([&timer, period, task](const boost::system::error_code& ec) {
        if (ec)
            return;
        task();
        every(timer, period, task);
    });
}

void log_outcome(const char* what, const ChangeOutcome& o) {
    if (!o.applied) {
        std::string text;
        for (const auto& m : o.messages)
            text += m + "\n";
        fmt::print(stderr, "{}", refused_reload_log(what, text));
        return;
    }
    for (const auto& m : o.messages)
        fmt::print(stderr, "lb: {}: {}\n", what, m);
}

// The control thread's parts and the wiring between them, one method per concern. Members are
// declared in the order they must be built (and are destroyed in reverse).
class ControlLoop {
  public:
    ControlLoop(Balancer& balancer, LoopHooks hooks)
        : hooks_(std::move(hooks)), balancer_(balancer),
          health_(io_, [this] { on_health_change(); }),
          reloader_(
              io_, balancer, [this] { on_reload_applied(); },
              [this](control::config::ReplicationKeys keys) {
                  on_replication_keys(std::move(keys));
              }),
          admin_(io_, balancer.config().admin.socket,
                 [this](const std::string& line, control::AdminSocket::Respond respond) {
                     on_admin_request(line, std::move(respond));
                 }),
          collector_(balancer.context()), resolver_(balancer.context(), balancer.pool()),
          readiness_(balancer) {
        health_.configure(balancer_.config());
        if (!balancer_.config().vrrp.empty())
            vrrp_ = make_vrrp();
        if (balancer_.config().replication) {
            replication_ = std::make_unique<ReplicationControl>(
                io_, balancer_, [this](std::optional<std::string> reason) {
                    preemption_hold_ = std::move(reason);
                    if (vrrp_)
                        vrrp_->hold_preemption(preemption_hold_);
                });
            collector_.on_expired = [this](std::uint32_t index, const dataplane::Connection& c) {
                replication_->expired(index, c);
            };
        }
        if (balancer_.config().bgp)
            bgp_ = make_bgp();
        if (!balancer_.config().stats.listen.empty())
            metrics_ =
                std::make_unique<MetricsEndpoint>(balancer_.config().stats.listen, balancer_);
    }

    void run() {
        watch_stop_signals();
        watch_hangups();
        start_housekeeping();
        schedule_stats();
        resolver_.tick(balancer_.context().clock.now_ms());
        if (replication_)
            replication_->start();
        if (vrrp_)
            vrrp_->start();
        if (bgp_)
            bgp_->start();
        // The first look runs as soon as the loop does: the admin socket already listens then.
        boost::asio::post(io_, [this] { tell_ready_once_forwarding(); });
        io_.run();
    }

  private:
    std::unique_ptr<BgpControl> make_bgp() {
        return std::make_unique<BgpControl>(io_, balancer_, [this] {
            return BgpControl::HealthNow{health_.down(), health_.statuses()};
        });
    }

    std::unique_ptr<VrrpControl> make_vrrp() {
        auto vrrp =
            std::make_unique<VrrpControl>(io_, balancer_, [this] { return health_.down(); });
        vrrp->hold_preemption(preemption_hold_); // replication may already hold it
        return vrrp;
    }

    // READY=1 for the service manager, once: the ports are started, every worker polls and
    // the links are up (lb/readiness.hpp). Until then STATUS= says what lb waits for.
    void tell_ready_once_forwarding() {
        if (ready_)
            return;
        const Readiness r = readiness_.check();
        if (!r.ready) {
            if (r.status != waiting_for_) {
                notifier_.status(r.status);
                waiting_for_ = r.status;
            }
            return;
        }
        if (!r.warning.empty())
            fmt::print(stderr, "lb: warning: {}\n", r.warning);
        notifier_.ready(r.status);
        ready_ = true;
    }

    void publish_health() {
        balancer_.reports().publish("health",
                                    [statuses = health_.statuses()](control::report::StatsView& v) {
                                        v.health = statuses;
                                    });
    }

    // Health checks drain failing servers by republishing the snapshot, and feed VRRP tracking.
    void on_health_change() {
        balancer_.set_down(health_.down());
        publish_health();
        if (vrrp_)
            vrrp_->track();
        if (bgp_)
            bgp_->update();
    }

    // Health checks and VRRP follow an applied reload (the file is read and checked off the
    // loop); a vrrp section the reload brings starts a VRRP control of its own.
    void on_reload_applied() {
        health_.configure(balancer_.config());
        reconfigure_bgp();
        if (vrrp_) {
            vrrp_->reconfigure();
            return;
        }
        if (balancer_.config().vrrp.empty())
            return;
        try {
            vrrp_ = make_vrrp();
            vrrp_->start();
        } catch (const std::exception& e) { // the notify FIFO: nothing else was started
            fmt::print(stderr, "lb: warning: reload: vrrp not started: {}\n", e.what());
            vrrp_.reset();
        }
    }

    // Every applied reload of a replicating configuration has read both key files again (a key
    // may be replaced under the same path) and found them usable; a file with an unusable key
    // is refused before this, so the running keys stay.
    void on_replication_keys(control::config::ReplicationKeys keys) {
        if (!replication_)
            return; // the section came with this reload: it starts at the next restart
        const bool two = !keys.previous.empty();
        replication_->set_keys(std::move(keys.current), std::move(keys.previous));
        fmt::print(stderr, "lb: replication: keys reloaded ({})\n",
                   two ? "key_file's to send, both accepted" : "one key");
    }

    // A reload may change what is announced, or bring the bgp section (a removed one withdraws
    // every VIP: BgpControl::update).
    void reconfigure_bgp() {
        if (bgp_) {
            bgp_->update();
            return;
        }
        if (!balancer_.config().bgp)
            return;
        try {
            bgp_ = make_bgp();
            bgp_->start();
        } catch (const std::exception& e) {
            fmt::print(stderr, "lb: warning: reload: bgp not started: {}\n", e.what());
            bgp_.reset();
        }
    }

    // lbctl drain-node [--undo]: the BGP part withdraws (or announces again) every VIP.
    control::AdminAnswer drain_node(const AdminRequest& request) {
        const bool undo = !request.args.empty();
        if (!bgp_)
            return error_answer("drain-node needs the bgp section: without BGP nothing is "
                                "announced to withdraw",
                                request.json, false);
        const auto [said, not_kept] = bgp_->set_drained(!undo);
        fmt::print(stderr, "lb: lbctl {}: {}", request.line(), said);
        if (request.json)
            return {true, control::json_text(
                              {{"drained", !undo},
                               {"message", said},
                               {"kept_across_restart", not_kept.empty()},
                               {"not_kept_because", not_kept.empty() ? control::Json(nullptr)
                                                                     : control::Json(not_kept)}})};
        return {true, said};
    }

    // VRRP's and replication's reports as they are now. The housekeeping tick refreshes them
    // every 100 ms, and VRRP's also when the preemption hold changes: answered from those, lbctl
    // vrrp could show the MASTER that followed "in sync" while lbctl replication still showed
    // the state before it. Refreshed together on the loop, they are one moment.
    void refresh_reports() {
        if (vrrp_)
            vrrp_->report();
        if (replication_)
            replication_->report();
    }

    // Requests are parsed once, here: what follows looks at the command, not at the text.
    void on_admin_request(const std::string& line, control::AdminSocket::Respond respond) {
        const ParsedRequest parsed = parse_admin_request_line(line);
        if (!parsed.request)
            return respond(error_answer("usage: " + parsed.usage_error, parsed.json, true));
        const AdminRequest request = *parsed.request;
        if (request.command == Command::drain_node)
            return respond(drain_node(request));
        if (request.command == Command::vrrp || request.command == Command::replication ||
            request.command == Command::stats)
            refresh_reports();
        handle_admin_request(
            balancer_, reloader_, request, [this, request, respond](control::AdminAnswer answer) {
                if (request.changes_state()) {
                    std::string said = answer.body;
                    while (!said.empty() && said.back() == '\n')
                        said.pop_back();
                    if (request.command == Command::reload && !answer.ok)
                        fmt::print(stderr, "{}", refused_reload_log("lbctl reload", said));
                    else
                        fmt::print(stderr, "lb: lbctl {}: {}\n", request.line(), said);
                    // A reload reconfigures health checks itself (the reloader's
                    // hook).
                    if (answer.ok && request.command != Command::reload) {
                        health_.configure(balancer_.config());
                        if (bgp_)
                            bgp_->update(); // a weight change may cross a quorum
                    }
                    // systemctl reload runs lbctl reload: status shows how it went.
                    if (request.command == Command::reload)
                        notifier_.status(answer.ok ? "reload (lbctl) applied"
                                                   : "reload (lbctl) refused: the "
                                                     "running configuration is kept");
                }
                respond(std::move(answer));
            });
    }

    void watch_stop_signals() {
        stop_signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
            if (ec)
                return;
            if (stopping_) {
                fmt::print(stderr, "lb: {} received again, stopping now\n", strsignal(signal));
                io_.stop();
                return;
            }
            stopping_ = true;
            fmt::print(stderr, "lb: {} received, shutting down\n", strsignal(signal));
            notifier_.stopping();
            watch_stop_signals(); // a second signal cuts the drain short
            // A master resigns first (priority 0), so that its backup takes over at once.
            auto resign = [this] {
                if (vrrp_)
                    vrrp_->shutdown([this] { io_.stop(); });
                else
                    io_.stop();
            };
            // BGP withdraws first and serves established flows until they end (drain_timeout).
            if (bgp_)
                bgp_->shutdown(resign);
            else
                resign();
        });
    }

    void watch_hangups() {
        reload_signal_.async_wait([this](const boost::system::error_code& ec, int) {
            if (ec)
                return;
            reloader_.request([this](const ChangeOutcome& outcome) {
                log_outcome("reload (SIGHUP)", outcome);
                notifier_.status(outcome.applied ? "reload (SIGHUP) applied"
                                                 : "reload (SIGHUP) refused: the running "
                                                   "configuration is kept");
            });
            watch_hangups();
        });
    }

    // Every 100 ms, which also measures how late the loop runs: a check that blocked the loop
    // would show here (control_loop_lag_max_ms).
    void start_housekeeping() {
        due_ = std::chrono::steady_clock::now() + tick;
        every(housekeeping_, tick, [this] {
            const auto now_tp = std::chrono::steady_clock::now();
            balancer_.record_loop_lag(
                std::chrono::duration<double, std::milli>(now_tp - due_).count());
            due_ = now_tp + tick;
            const std::uint32_t now = balancer_.context().clock.now_ms();
            collector_.tick(now);
            resolver_.tick(now);
            publish_health();
            if (vrrp_)
                vrrp_->track(); // links have no event: look every tick
            refresh_reports();
            tell_ready_once_forwarding();
            if (hooks_.on_tick)
                hooks_.on_tick();
            // Last: the ping says this whole iteration ran.
            notifier_.watchdog_tick();
        });
    }

    // The stats period may change on reload: re-read it every time.
    void schedule_stats() {
        stats_timer_.expires_after(balancer_.config().stats.interval);
        stats_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec)
                return;
            balancer_.write_stats();
            schedule_stats();
        });
    }

    static constexpr std::chrono::milliseconds tick{100};

    const LoopHooks hooks_;
    Balancer& balancer_;
    boost::asio::io_context io_;
    control::health::HealthMonitor health_;
    std::unique_ptr<VrrpControl> vrrp_;
    std::optional<std::string> preemption_hold_; // replication's reason, while not in sync
    ConfigReloader reloader_;
    control::AdminSocket admin_;
    std::unique_ptr<MetricsEndpoint> metrics_;
    control::report::TableCollector collector_;
    control::NeighbourResolver resolver_;
    std::unique_ptr<ReplicationControl> replication_; // after the collector that calls it
    std::unique_ptr<BgpControl> bgp_;
    boost::asio::signal_set stop_signals_{io_, SIGINT, SIGTERM};
    boost::asio::signal_set reload_signal_{io_, SIGHUP};
    boost::asio::steady_timer housekeeping_{io_};
    boost::asio::steady_timer stats_timer_{io_};
    std::chrono::steady_clock::time_point due_;
    ServiceNotifier notifier_;
    ReadinessWatch readiness_;
    bool ready_ = false;
    bool stopping_ = false;
    std::string waiting_for_; // the last STATUS= sent while not ready
};

} // namespace

void run_control_loop(Balancer& balancer, const std::function<void()>& on_listening,
                      const LoopHooks& hooks) {
    ControlLoop loop(balancer, hooks);
    on_listening();
    loop.run();
}

} // namespace lb::app
