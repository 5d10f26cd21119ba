// When lb may tell its service manager it is ready: every worker has polled its queues at
// least once and every port's link is up. A link that stays down (a cable not plugged yet) must
// not keep the service "activating" forever: after `link_grace` lb is ready anyway and says
// which links are down.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "lb/balancer.hpp"

namespace lb::app {

struct Readiness {
    bool ready = false;
    std::string status;  // for STATUS=: what lb does, or what it waits for
    std::string warning; // non-empty: ready although something is missing (links down)
};

class ReadinessWatch {
  public:
    static constexpr std::chrono::seconds link_grace{10};

    explicit ReadinessWatch(Balancer& balancer);
    // Called on the loop until it answers ready.
    Readiness check() const;

  private:
    std::optional<std::string> idle_worker() const;
    std::string links_down() const;

    Balancer& balancer_;
    std::chrono::steady_clock::time_point started_;
};

} // namespace lb::app
