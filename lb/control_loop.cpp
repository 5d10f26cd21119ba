#include "lb/control_loop.hpp"

#include <chrono>
#include <cstring>
#include <functional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "control/admin_socket.hpp"
#include "control/neighbour_resolver.hpp"
#include "control/table_collector.hpp"
#include "lb/admin_commands.hpp"
#include "lb/metrics.hpp"

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
    boost::asio::signal_set stop_signals(io, SIGINT, SIGTERM);
    stop_signals.async_wait([&](const boost::system::error_code& ec, int signal) {
        if (!ec)
            fmt::print(stderr, "lb: {} received, shutting down\n", strsignal(signal));
        io.stop();
    });
    boost::asio::signal_set reload_signal(io, SIGHUP);
    std::function<void()> wait_for_hangup = [&] {
        reload_signal.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec)
                return;
            log_outcome("reload (SIGHUP)", balancer.reload());
            wait_for_hangup();
        });
    };
    wait_for_hangup();

    control::AdminSocket admin(io, balancer.config().admin.socket, [&](const std::string& request) {
        auto answer = handle_admin_request(balancer, request);
        if (request.rfind("reload", 0) == 0 || request.rfind("drain", 0) == 0 ||
            request.rfind("set-weight", 0) == 0)
            fmt::print(stderr, "lb: lbctl {}: {}", request,
                       answer.body.empty() ? "\n" : answer.body);
        return answer;
    });

    std::unique_ptr<MetricsEndpoint> metrics;
    if (!balancer.config().stats.listen.empty())
        metrics = std::make_unique<MetricsEndpoint>(balancer.config().stats.listen, balancer);

    control::TableCollector collector(balancer.context());
    control::NeighbourResolver resolver(balancer.context(), balancer.pool());
    boost::asio::steady_timer housekeeping(io);
    every(housekeeping, std::chrono::milliseconds(100), [&] {
        const std::uint32_t now = balancer.context().clock.now_ms();
        collector.tick(now);
        resolver.tick(now);
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
    io.run();
}

} // namespace lb::app
