// What lbctl can ask (a request parsed by lb/admin_request), answered with a table for people
// or JSON for scripts.
#pragma once

#include <string>

#include "control/admin_socket.hpp"
#include "lb/admin_request.hpp"
#include "lb/balancer.hpp"
#include "lb/config_reloader.hpp"

namespace lb::app {

// Answers through `respond`: at once, or for `reload` once the file is read and applied.
void handle_admin_request(Balancer& balancer, ConfigReloader& reloader, const AdminRequest& request,
                          control::AdminSocket::Respond respond);

} // namespace lb::app
