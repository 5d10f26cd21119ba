// The vrrp module's lbctl commands (lb/admin_request.hpp, ModuleCommand).
#pragma once

#include "lb/admin_request.hpp"

namespace lb::app {

inline const ModuleCommand vrrp_commands[] = {
    {"vrrp", "vrrp", 0, 0, "vrrp", "VRRP instances: state, priority, master, why", nullptr, true,
     false, nullptr},
};

} // namespace lb::app
