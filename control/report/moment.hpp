// A moment as lbctl shows it, in a header of its own so that pure cores (modules/bgp's BIRD
// session) can record one without the whole statistics view and its modules.
#pragma once

#include <chrono>

namespace lb::control::report {

// A moment as lbctl shows it, so that events reported by different commands can be ordered: the
// wall clock (for people and logs) and the monotonic clock (immune to clock steps).
struct Moment {
    std::chrono::system_clock::time_point wall{};
    std::chrono::steady_clock::time_point monotonic{};
    static Moment now() {
        return {std::chrono::system_clock::now(), std::chrono::steady_clock::now()};
    }
};

} // namespace lb::control::report
