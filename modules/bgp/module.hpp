// The bgp module as the control loop sees it (lb/module.hpp).
#pragma once

#include <memory>

#include "lb/module.hpp"

namespace lb::app {

bool bgp_configured(const control::config::Config& config);
std::unique_ptr<Module> make_bgp_module(ModuleContext& context);
// `lbctl bgp` (ModuleKind::view), in admin_view.cpp.
control::AdminAnswer bgp_view(const Balancer& balancer, const AdminRequest& request);

} // namespace lb::app
