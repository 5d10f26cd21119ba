#include "lb/module.hpp"
#include "modules/bgp/metric_families.hpp"
#include "modules/bgp/module.hpp"
#include "modules/health/metric_families.hpp"
#include "modules/health/module.hpp"
#include "modules/replication/metric_families.hpp"
#include "modules/replication/module.hpp"
#include "modules/vrrp/metric_families.hpp"
#include "modules/vrrp/module.hpp"

namespace lb::app {

using namespace control::report::metrics;

// Start order; a clean stop goes the other way: BGP withdraws and drains first, then VRRP
// resigns, so that the backup takes over only once routers stopped sending here. Replication
// starts first (after health, which only reports) so that VRRP's first decision already knows
// whether it may preempt. A module's lbctl commands are listed in lb/module_commands.cpp.
const std::vector<ModuleKind>& module_kinds() {
    static const std::vector<ModuleKind> kinds{
        {"health", health_configured, make_health_module, true, nullptr, add_health_families,
         false},
        {"replication", replication_configured, make_replication_module, false, replication_view,
         add_replication_families, true},
        {"vrrp", vrrp_configured, make_vrrp_module, true, vrrp_view, add_vrrp_families, false},
        {"bgp", bgp_configured, make_bgp_module, true, bgp_view, add_bgp_families, false},
    };
    return kinds;
}

const ModuleKind* module_named(std::string_view name) {
    for (const ModuleKind& kind : module_kinds())
        if (name == kind.name)
            return &kind;
    return nullptr;
}

} // namespace lb::app
