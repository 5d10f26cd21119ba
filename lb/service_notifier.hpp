// What a service manager (systemd, Type=notify) is told: READY=1 once lb forwards, STATUS=
// lines, STOPPING=1, and WATCHDOG=1 from the control loop so that a stuck control thread gets
// the process restarted. Without NOTIFY_SOCKET (not under systemd) every call does nothing.
#pragma once

#include <chrono>
#include <string>

namespace lb::app {

class ServiceNotifier {
  public:
    // Reads WATCHDOG_USEC/WATCHDOG_PID (sd_watchdog_enabled) once: the interval cannot change
    // while lb runs.
    ServiceNotifier();

    void ready(const std::string& status);
    void status(const std::string& status);
    void stopping();
    // Called every control-loop iteration; sends WATCHDOG=1 at most once per half the
    // watchdog interval (systemd's advice), so a loop that stops iterating stops the pings.
    void watchdog_tick();

    bool watchdog_enabled() const { return period_.count() > 0; }

  private:
    void send(const std::string& state);

    std::chrono::microseconds period_{0}; // half of WatchdogSec=; 0: no watchdog
    std::chrono::steady_clock::time_point last_ping_{};
    bool warned_ = false;
};

} // namespace lb::app
