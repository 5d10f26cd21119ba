#include "lb/module.hpp"
#include "modules/bgp/module.hpp"
#include "modules/replication/module.hpp"
#include "modules/vrrp/module.hpp"

namespace lb::app {

// Start order; a clean stop goes the other way: BGP withdraws and drains first, then VRRP
// resigns, so that the backup takes over only once routers stopped sending here. Replication
// starts first so that VRRP's first decision already knows whether it may preempt.
const std::vector<ModuleKind>& module_kinds() {
    static const std::vector<ModuleKind> kinds{
        {"replication", replication_configured, make_replication_module, false,
         Command::replication, replication_view},
        {"vrrp", vrrp_configured, make_vrrp_module, true, Command::vrrp, vrrp_view},
        {"bgp", bgp_configured, make_bgp_module, true, Command::bgp, bgp_view},
    };
    return kinds;
}

const ModuleKind* module_viewing(Command command) {
    for (const ModuleKind& kind : module_kinds())
        if (kind.view_command == command)
            return &kind;
    return nullptr;
}

} // namespace lb::app
