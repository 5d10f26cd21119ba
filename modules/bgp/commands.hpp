// The bgp module's lbctl commands (lb/admin_request.hpp, ModuleCommand): its view, and
// drain-node, which modules/bgp/module.cpp answers.
#pragma once

#include "lb/admin_request.hpp"

namespace lb::app {

inline const ModuleCommand bgp_commands[] = {
    {"bgp", "bgp", 0, 0, "bgp", "VIPs announced over BGP and why, BIRD's sessions", nullptr, true,
     false, nullptr},
    {"bgp", "drain-node", 0, 1, "drain-node [--undo]",
     "withdraw every VIP (established flows go on)", "--undo", false, true,
     "without BGP nothing is announced to withdraw"},
};

} // namespace lb::app
