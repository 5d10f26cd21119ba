// The control thread's event loop (Boost.Asio): SIGINT/SIGTERM stop, SIGHUP reloads, the admin
// socket answers lbctl, and timers drive table expiry, ARP resolution and the stats file.
#pragma once

#include "lb/balancer.hpp"

namespace lb::app {

// Returns when the balancer should stop.
void run_control_loop(Balancer& balancer);

} // namespace lb::app
