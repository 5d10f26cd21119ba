// What lbctl can ask (a request parsed by lb/admin_request), answered with a table for people
// or JSON for scripts.
#pragma once

#include <string>

#include "control/admin_socket.hpp"
#include "lb/admin_request.hpp"
#include "lb/balancer.hpp"
#include "lb/config_reloader.hpp"

namespace lb::app {

// A refusal (or with `usage`, a malformed request): its text, or {"error": text} for --json.
control::AdminAnswer error_answer(const std::string& message, bool json, bool usage);

// Answers through `respond`: at once, or for `reload` once the file is read and applied.
void handle_admin_request(Balancer& balancer, ConfigReloader& reloader, const AdminRequest& request,
                          control::AdminSocket::Respond respond);

} // namespace lb::app
