// Runs every configured real server's health check on the control thread's io_context and
// keeps its up/down state. Each transition is logged once with its reason and reported to the
// owner, who republishes the snapshot with the server drained (weight 0: no new connections,
// established ones continue).
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "control/config/model.hpp"
#include "modules/health/checker.hpp"
#include "modules/health/state.hpp"

namespace lb::control::health {

// (service name, address, port) of a real server, as configured.
using ServerKey = std::tuple<std::string, std::uint32_t, std::uint16_t>;
using DownSet = std::set<ServerKey>;

// Upper bounds (seconds) of the check-duration histogram's buckets.
inline constexpr std::array<double, 8> check_duration_buckets = {0.001, 0.005, 0.01, 0.05,
                                                                 0.1,   0.5,   1.0,  5.0};

struct HealthStatus {
    ServerKey server;
    std::string check; // its type
    bool up = true;
    bool checked = false; // false: up, its first check still to complete
    std::string reason;   // of the last failure, or empty
    std::uint64_t failures_total = 0;
    std::uint64_t checks_total = 0;
    std::array<std::uint64_t, check_duration_buckets.size()> duration_buckets{}; // cumulative
    double duration_sum = 0;
};

class HealthMonitor {
  public:
    using OnChange = std::function<void()>;

    HealthMonitor(boost::asio::io_context& io, OnChange on_change);
    ~HealthMonitor();

    // Starts checks for every real server with a health_check in `config`, stops those of
    // servers that went away, and keeps the state of those whose check did not change.
    void configure(const config::Config& config);
    DownSet down() const;
    std::vector<HealthStatus> statuses() const;

  private:
    struct Target;
    void schedule(const std::shared_ptr<Target>& t, std::chrono::milliseconds delay);
    void completed(const std::shared_ptr<Target>& t, const CheckResult& r);

    boost::asio::io_context& io_;
    OnChange on_change_;
    std::map<ServerKey, std::shared_ptr<Target>> targets_;
};

} // namespace lb::control::health
