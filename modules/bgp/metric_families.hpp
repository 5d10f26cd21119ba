// VIP announcement's families (lb_bgp_*), present only with a bgp section, for lb's /metrics
// (docs/metrics.md).
#pragma once

#include "control/report/metric_builder.hpp"
#include "control/report/stats_view.hpp"

namespace lb::control::report::metrics {

// Nothing when the view has no bgp part (the module is not configured).
void add_bgp_families(Families& out, const StatsView& view);

} // namespace lb::control::report::metrics
