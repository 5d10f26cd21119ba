// lb's clean shutdown with BGP, as decisions without I/O (issue 22): every VIP withdrawn, BIRD's
// confirmation awaited (at most bgp.drain_timeout), a second for the router to settle, then the
// established connections served until none are left or drain_timeout has passed since the
// start. The driver (modules/bgp/driver.cpp) calls step() every `period` with the time, what
// BIRD said and how to count the connections, and stops lb when step() says so.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "modules/bgp/bird_session.hpp"

namespace lb::control::bgp {

class ShutdownSequence {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::chrono::milliseconds period{100};
    // After BIRD confirmed the withdrawal: time for its UPDATEs to reach the router and for the
    // router to take the node out of the ECMP group before lb stops answering.
    static constexpr std::chrono::seconds settle{1};

    // Where BIRD is with the withdrawal.
    enum class Bird {
        confirmed, // loaded the file announcing nothing
        pending,   // connected (or greeting), not confirmed yet
        absent,    // not connected: nothing to tell
    };

    // Connected but not yet confirmed is pending; not connected (or still connecting) is absent.
    static Bird of(const BirdSession& session);

    explicit ShutdownSequence(Clock::time_point start) : start_(start) {}

    // True when lb may stop. `connections` is asked only once the router has settled; `log`
    // receives lines for stderr, after "lb: bgp: ".
    bool step(Clock::time_point now, std::chrono::milliseconds drain_timeout, Bird bird,
              const std::function<std::size_t()>& connections,
              const std::function<void(const std::string&)>& log);

    std::optional<Clock::time_point> withdrawn_at() const { return withdrawn_at_; }

  private:
    Clock::time_point start_;
    std::optional<Clock::time_point> withdrawn_at_;
};

} // namespace lb::control::bgp
