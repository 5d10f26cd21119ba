// A coarse millisecond clock shared by workers and the control thread. Workers read the TSC
// once per burst; 32-bit milliseconds wrap after 49 days, so every comparison uses the
// wrap-safe difference `now - then`.
#pragma once

#include <cstdint>

#include <rte_cycles.h>

namespace lb::dataplane {

class Clock {
  public:
    Clock() : start_(rte_get_tsc_cycles()), cycles_per_ms_(rte_get_tsc_hz() / 1000) {
        if (cycles_per_ms_ == 0)
            cycles_per_ms_ = 1;
    }
    std::uint32_t now_ms() const {
        return static_cast<std::uint32_t>((rte_get_tsc_cycles() - start_) / cycles_per_ms_);
    }

  private:
    std::uint64_t start_;
    std::uint64_t cycles_per_ms_;
};

// How long ago `then` was, wrap-safe; a `then` after `now` is 0. That is not a corner case:
// the expiry sweep reads `now` once per tick while workers keep writing later times into
// `last_seen`, and the unsigned difference of such a pair is a huge age (the busiest
// connections were expired mid-transfer). Differences beyond 2^31 ms (24 days) count as ahead.
inline std::uint32_t age_ms(std::uint32_t now, std::uint32_t then) {
    const auto age = static_cast<std::int32_t>(now - then);
    return age > 0 ? static_cast<std::uint32_t>(age) : 0;
}

// True when more than `timeout` ms have passed between `then` and `now`.
inline bool expired(std::uint32_t now, std::uint32_t then, std::uint32_t timeout) {
    return age_ms(now, then) > timeout;
}

} // namespace lb::dataplane
