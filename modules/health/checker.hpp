// One check of one real server, run on the control thread's io_context without ever blocking
// it: every socket operation is asynchronous and raced against the check's timeout, and an
// exec check's process is polled and killed (with its process group) at the timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "control/config/model.hpp"

namespace lb::control::health {

struct CheckResult {
    bool ok = false;
    std::string reason; // why it failed, for the log ("connect refused", "HTTP 503", ...)
    std::chrono::duration<double> duration{0};
};

struct CheckTarget {
    std::uint32_t address = 0; // host order
    std::uint16_t port = 0;
    std::string label; // "service ADDRESS:PORT", for exec's environment
    // exec only: more NAME=VALUE environment, and positional arguments ($1, $2, ...) for the
    // command (VRRP tracking scripts and notify hooks).
    std::vector<std::string> environment;
    std::vector<std::string> arguments;
};

using CheckDone = std::function<void(CheckResult)>;

// Starts one check; `done` is called exactly once, on the io_context's thread.
void run_check(boost::asio::io_context& io, const config::HealthCheck& check,
               const CheckTarget& target, CheckDone done);

} // namespace lb::control::health
