// What lbctl can ask: the request line's words, answered with a table for people or JSON for
// scripts (`--json` anywhere in the request).
#pragma once

#include <string>

#include "control/admin_socket.hpp"
#include "lb/balancer.hpp"
#include "lb/config_reloader.hpp"

namespace lb::app {

// Answers through `respond`: at once, or for `reload` once the file is read and applied.
void handle_admin_request(Balancer& balancer, ConfigReloader& reloader, const std::string& request,
                          control::AdminSocket::Respond respond);

} // namespace lb::app
