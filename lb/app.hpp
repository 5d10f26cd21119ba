// Start-up, the control loop and shutdown of a running balancer.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "control/config/model.hpp"

namespace lb::app {

// What a test build may add to the control loop; lb itself sets none (lb/main.cpp), so the
// production loop has no test hook to trip over.
struct LoopHooks {
    // Runs on the control thread at the end of every 100 ms tick, before the watchdog ping:
    // test/tools/lb_stallable.cpp blocks here to show the watchdog stops with the loop.
    std::function<void()> on_tick;
};

// Runs until SIGINT or SIGTERM. Throws std::runtime_error on start-up failures with a message
// for the user; returns the process exit code otherwise.
int run(const control::config::Config& config, const std::string& config_path,
        const std::vector<std::string>& extra_eal_args, const LoopHooks& hooks = {});

// lb's command line (--config, --check, --hardware, --version, -- EAL arguments): main(), and a
// test build's main with its hooks. Returns the exit code.
int run_command_line(int argc, char** argv, const LoopHooks& hooks = {});

} // namespace lb::app
