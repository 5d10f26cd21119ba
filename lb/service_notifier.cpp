#include "lb/service_notifier.hpp"

#include <cstring>

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

namespace lb::app {

ServiceNotifier::ServiceNotifier() {
    std::uint64_t usec = 0;
    // 0 (unset_environment): health-check children inherit NOTIFY_SOCKET, but systemd only
    // listens to the main process (NotifyAccess=main, the default).
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        period_ = std::chrono::microseconds(usec / 2);
}

void ServiceNotifier::send(const std::string& state) {
    const int r = sd_notify(0, state.c_str());
    if (r < 0 && !warned_) { // once: a broken socket would otherwise repeat every ping
        warned_ = true;
        fmt::print(stderr, "lb: warning: cannot notify the service manager ({}): {}\n", state,
                   std::strerror(-r));
    }
}

void ServiceNotifier::ready(const std::string& status) {
    send(fmt::format("READY=1\nSTATUS={}", status));
}

void ServiceNotifier::status(const std::string& status) {
    send("STATUS=" + status);
}

void ServiceNotifier::stopping() {
    send("STOPPING=1");
}

void ServiceNotifier::watchdog_tick() {
    if (!watchdog_enabled())
        return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ping_ < period_)
        return;
    last_ping_ = now;
    send("WATCHDOG=1");
}

} // namespace lb::app
