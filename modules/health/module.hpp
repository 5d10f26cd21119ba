// The health module as the control loop sees it (lb/module.hpp). The checks themselves
// (HealthMonitor) are the loop's, built before every module, since VRRP tracking and BGP's quorum
// read their verdicts (ModuleContext::health) and the Balancer drains the servers they hold down;
// this module reports them.
#pragma once

#include <memory>

#include "lb/module.hpp"

namespace lb::app {

// Always: a real server without a check is up, and the statuses (none) are still reported.
bool health_configured(const control::config::Config& config);
std::unique_ptr<Module> make_health_module(ModuleContext& context);

} // namespace lb::app
