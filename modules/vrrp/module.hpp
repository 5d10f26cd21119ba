// The vrrp module as the control loop sees it (lb/module.hpp).
#pragma once

#include <memory>

#include "lb/module.hpp"

namespace lb::app {

bool vrrp_configured(const control::config::Config& config);
std::unique_ptr<Module> make_vrrp_module(ModuleContext& context);
// `lbctl vrrp` (ModuleKind::view), in admin_view.cpp.
control::AdminAnswer vrrp_view(const Balancer& balancer, const AdminRequest& request);

} // namespace lb::app
