// VRRP's families (lb_vrrp_*), present only with VRRP instances, for lb's /metrics
// (docs/metrics.md).
#pragma once

#include "control/report/metric_builder.hpp"
#include "control/report/stats_view.hpp"

namespace lb::control::report::metrics {

// Nothing when the view has no vrrp part (the module is not configured).
void add_vrrp_families(Families& out, const StatsView& view);

} // namespace lb::control::report::metrics
