// The control thread's event loop (Boost.Asio): SIGINT/SIGTERM stop, SIGHUP reloads, the admin
// socket answers lbctl, and timers drive table expiry, ARP resolution and the stats file.
#pragma once

#include <functional>

#include "lb/app.hpp"
#include "lb/balancer.hpp"

namespace lb::app {

// Returns when the balancer should stop. `on_listening` runs once the admin socket listens and
// before the first event: whoever reads lb's log and then calls lbctl finds it answering.
void run_control_loop(Balancer& balancer, const std::function<void()>& on_listening,
                      const LoopHooks& hooks);

} // namespace lb::app
