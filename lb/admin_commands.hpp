// What lbctl can ask: the request line's words, answered with a table for people or JSON for
// scripts (`--json` anywhere in the request).
#pragma once

#include <string>

#include "control/admin_socket.hpp"
#include "lb/balancer.hpp"

namespace lb::app {

control::AdminAnswer handle_admin_request(Balancer& balancer, const std::string& request);

} // namespace lb::app
