// Start-up, the control loop and shutdown of a running balancer.
#pragma once

#include <string>
#include <vector>

#include "control/config/model.hpp"

namespace lb::app {

// Runs until SIGINT or SIGTERM. Throws std::runtime_error on start-up failures with a message
// for the user; returns the process exit code otherwise.
int run(const control::config::Config& config, const std::string& config_path,
        const std::vector<std::string>& extra_eal_args);

} // namespace lb::app
