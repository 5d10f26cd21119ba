// The replication module as the control loop sees it (lb/module.hpp).
#pragma once

#include <memory>

#include "lb/module.hpp"

namespace lb::app {

bool replication_configured(const control::config::Config& config);
std::unique_ptr<Module> make_replication_module(ModuleContext& context);
// `lbctl replication` (ModuleKind::view), in admin_view.cpp.
control::AdminAnswer replication_view(const Balancer& balancer, const AdminRequest& request);

} // namespace lb::app
