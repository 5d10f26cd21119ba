// The replication module's lbctl commands (lb/admin_request.hpp, ModuleCommand).
#pragma once

#include "lb/admin_request.hpp"

namespace lb::app {

inline const ModuleCommand replication_commands[] = {
    {"replication", "replication", 0, 0, "replication",
     "session replication: peer, state, counters", nullptr, true, false, nullptr},
};

} // namespace lb::app
