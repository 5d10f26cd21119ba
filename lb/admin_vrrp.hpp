// `lbctl vrrp`: each instance's state, priority, master, last transition and why, as a table
// or JSON (the fields are listed in README, "lbctl vrrp --json").
#pragma once

#include "control/admin_socket.hpp"
#include "lb/balancer.hpp"

namespace lb::app {

control::AdminAnswer vrrp_answer(const Balancer& balancer, bool json);

} // namespace lb::app
