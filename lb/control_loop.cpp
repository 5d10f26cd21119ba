#include "lb/control_loop.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "control/admin_socket.hpp"
#include "control/config/reload_plan.hpp"
#include "control/json_text.hpp"
#include "control/neighbour_resolver.hpp"
#include "control/report/table_collector.hpp"
#include "lb/admin_commands.hpp"
#include "lb/config_reloader.hpp"
#include "lb/metrics.hpp"
#include "lb/module.hpp"
#include "lb/module_set.hpp"
#include "lb/readiness.hpp"
#include "lb/service_notifier.hpp"
#include "modules/health/monitor.hpp"

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
        fmt::print(stderr, "{}", control::config::refused_reload_log(what, text));
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
              io_, balancer,
              [this](const control::config::ReloadReads& reads) { on_reload_applied(reads); }),
          admin_(io_, balancer.config().admin.socket,
                 [this](const std::string& line, control::AdminSocket::Respond respond) {
                     on_admin_request(line, std::move(respond));
                 }),
          collector_(balancer.context()), resolver_(balancer.context(), balancer.pool()),
          readiness_(balancer) {
        health_.configure(balancer_.config());
        modules_.build(balancer_.config());
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
        modules_.start();
        // The first look runs as soon as the loop does: the admin socket already listens then.
        boost::asio::post(io_, [this] { tell_ready_once_forwarding(); });
        io_.run();
    }

  private:
    // Replication's word on whether VRRP may preempt, passed to every module.
    void hold_preemption(std::optional<std::string> reason) {
        modules_.hold_preemption(std::move(reason));
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

    // Health checks drain failing servers by republishing the snapshot; the modules hear of it
    // (health's own reports it, VRRP tracks it, BGP's quorum counts it).
    void on_health_change() {
        balancer_.set_down(health_.down());
        modules_.on_health_change();
    }

    // Health checks and the modules follow an applied reload (the file is read and checked off
    // the loop); a section the reload brings starts its module, when that module can start on a
    // reload (ModuleKind::starts_on_reload; replication waits for the next restart).
    void on_reload_applied(const control::config::ReloadReads& reads) {
        health_.configure(balancer_.config());
        modules_.on_reload_applied(balancer_.config(), reads);
    }

    // Every module's report as it is now. The housekeeping tick refreshes them every 100 ms,
    // and a module may on its own events (VRRP when the preemption hold changes): answered from
    // those alone, lbctl vrrp could show the MASTER that followed "in sync" while lbctl
    // replication still showed the state before it. Refreshed together on the loop, they are
    // one moment.
    void refresh_reports() { modules_.report(); }

    // Requests are parsed once, here: what follows looks at the command, not at the text.
    void on_admin_request(const std::string& line, control::AdminSocket::Respond respond) {
        const ParsedRequest parsed = parse_admin_request_line(line);
        if (!parsed.request)
            return respond(error_answer("usage: " + parsed.usage_error, parsed.json, true));
        const AdminRequest request = *parsed.request;
        if (auto answer = modules_.answer(request))
            return respond(std::move(*answer));
        if (request.command == Command::stats || (request.module && request.module->view))
            refresh_reports();
        handle_admin_request(
            balancer_, reloader_, request, [this, request, respond](control::AdminAnswer answer) {
                if (request.changes_state()) {
                    std::string said = answer.body;
                    while (!said.empty() && said.back() == '\n')
                        said.pop_back();
                    if (request.command == Command::reload && !answer.ok)
                        fmt::print(stderr, "{}",
                                   control::config::refused_reload_log("lbctl reload", said));
                    else
                        fmt::print(stderr, "lb: lbctl {}: {}\n", request.line(), said);
                    // A reload reconfigures health checks itself (the reloader's
                    // hook).
                    if (answer.ok && request.command != Command::reload) {
                        health_.configure(balancer_.config());
                        modules_.on_health_change(); // a weight change may cross a quorum
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
            modules_.shutdown([this] { io_.stop(); });
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
            modules_.tick();
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
    ConfigReloader reloader_;
    control::AdminSocket admin_;
    std::unique_ptr<MetricsEndpoint> metrics_;
    control::report::TableCollector collector_;
    control::NeighbourResolver resolver_;
    ModuleContext module_context_{
        io_, balancer_, health_, collector_,
        [this](std::optional<std::string> reason) { hold_preemption(std::move(reason)); }};
    // The feature modules running (lb/module_list.cpp), after everything they use.
    ModuleSet modules_{module_kinds(),
                       [this](const ModuleKind& kind) { return kind.make(module_context_); },
                       [](const std::string& line) { fmt::print(stderr, "lb: {}\n", line); }};
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
