// `lbctl bgp`: every VIP, whether it is announced and why (or why not), BIRD's control
// connection (up or down, since when, why), whether the node is drained and whether that
// survives a restart, and BIRD's session with each neighbour (BGP state, BFD), as tables or JSON
// (the fields are listed in README, "Scaling out").
#pragma once

#include "control/admin_socket.hpp"
#include "lb/balancer.hpp"

namespace lb::app {

// `now`: the moment of the answer (its `as_of`, and what "down for N s" counts from).
control::AdminAnswer bgp_answer(const Balancer& balancer, bool json,
                                const control::report::Moment& now);

} // namespace lb::app
