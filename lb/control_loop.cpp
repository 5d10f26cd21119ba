#include "lb/control_loop.hpp"

#include <chrono>
#include <cstring>
#include <functional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "control/admin_socket.hpp"
#include "control/health/monitor.hpp"
#include "control/neighbour_resolver.hpp"
#include "control/report/table_collector.hpp"
#include "lb/admin_commands.hpp"
#include "lb/config_reloader.hpp"
#include "lb/metrics.hpp"
#include "lb/vrrp_control.hpp"

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
    for (const auto& m : o.messages)
        fmt::print(stderr, "lb: {}: {}\n", what, m);
}

} // namespace

void run_control_loop(Balancer& balancer) {
    boost::asio::io_context io;
    // Health checks drain failing servers by republishing the snapshot, and feed VRRP
    // tracking.
    control::health::HealthMonitor* monitor = nullptr;
    std::unique_ptr<VrrpControl> vrrp;
    control::health::HealthMonitor health(io, [&] {
        balancer.set_down(monitor->down());
        balancer.set_health(monitor->statuses());
        if (vrrp)
            vrrp->track();
    });
    monitor = &health;
    health.configure(balancer.config());
    if (!balancer.config().vrrp.empty())
        vrrp = std::make_unique<VrrpControl>(io, balancer, [&] { return monitor->down(); });

    boost::asio::signal_set stop_signals(io, SIGINT, SIGTERM);
    stop_signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (ec)
            return;
        fmt::print(stderr, "lb: {} received, shutting down\n", strsignal(signal));
        // A master resigns first (priority 0), so that its backup takes over at once.
        if (vrrp)
            vrrp->shutdown([&] { io.stop(); });
        else
            io.stop();
    });

    // The file is read and checked off the loop; health checks and VRRP follow an applied
    // reload (a vrrp section the reload brings starts a VRRP control of its own).
    ConfigReloader reloader(io, balancer, [&] {
        health.configure(balancer.config());
        if (vrrp) {
            vrrp->reconfigure();
        } else if (!balancer.config().vrrp.empty()) {
            try {
                vrrp = std::make_unique<VrrpControl>(io, balancer, [&] { return monitor->down(); });
                vrrp->start();
            } catch (const std::exception& e) { // the notify FIFO: nothing else was started
                fmt::print(stderr, "lb: warning: reload: vrrp not started: {}\n", e.what());
                vrrp.reset();
            }
        }
    });
    boost::asio::signal_set reload_signal(io, SIGHUP);
    std::function<void()> wait_for_hangup = [&] {
        reload_signal.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec)
                return;
            reloader.request(
                [](const ChangeOutcome& outcome) { log_outcome("reload (SIGHUP)", outcome); });
            wait_for_hangup();
        });
    };
    wait_for_hangup();

    // Requests are parsed once, here: what follows looks at the command, not at the text.
    control::AdminSocket admin(
        io, balancer.config().admin.socket,
        [&](const std::string& line, control::AdminSocket::Respond respond) {
            const ParsedRequest parsed = parse_admin_request_line(line);
            if (!parsed.request)
                return respond(error_answer("usage: " + parsed.usage_error, parsed.json, true));
            const AdminRequest request = *parsed.request;
            handle_admin_request(
                balancer, reloader, request, [&, request, respond](control::AdminAnswer answer) {
                    if (request.changes_state()) {
                        std::string said = answer.body;
                        while (!said.empty() && said.back() == '\n')
                            said.pop_back();
                        fmt::print(stderr, "lb: lbctl {}: {}\n", request.line(), said);
                        // A reload reconfigures health checks itself (the reloader's hook).
                        if (answer.ok && request.command != Command::reload)
                            health.configure(balancer.config());
                    }
                    respond(std::move(answer));
                });
        });

    std::unique_ptr<MetricsEndpoint> metrics;
    if (!balancer.config().stats.listen.empty())
        metrics = std::make_unique<MetricsEndpoint>(balancer.config().stats.listen, balancer);

    control::report::TableCollector collector(balancer.context());
    control::NeighbourResolver resolver(balancer.context(), balancer.pool());
    // Housekeeping every 100 ms, which also measures how late the loop runs: a check that
    // blocked the loop would show here (control_loop_lag_max_ms).
    boost::asio::steady_timer housekeeping(io);
    const auto tick = std::chrono::milliseconds(100);
    auto due = std::chrono::steady_clock::now() + tick;
    every(housekeeping, tick, [&] {
        const auto now_tp = std::chrono::steady_clock::now();
        balancer.record_loop_lag(std::chrono::duration<double, std::milli>(now_tp - due).count());
        due = now_tp + tick;
        const std::uint32_t now = balancer.context().clock.now_ms();
        collector.tick(now);
        resolver.tick(now);
        balancer.set_health(health.statuses());
        if (vrrp) {
            vrrp->track(); // links have no event: look every tick
            vrrp->report();
        }
    });
    // The stats period may change on reload: re-read it every time.
    boost::asio::steady_timer stats_timer(io);
    std::function<void()> schedule_stats = [&] {
        stats_timer.expires_after(balancer.config().stats.interval);
        stats_timer.async_wait([&](const boost::system::error_code& ec) {
            if (ec)
                return;
            balancer.write_stats();
            schedule_stats();
        });
    };
    resolver.tick(balancer.context().clock.now_ms());
    schedule_stats();
    if (vrrp)
        vrrp->start();
    io.run();
}

} // namespace lb::app
