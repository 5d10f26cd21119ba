// Session replication's families (lb_replication_*), present only with a replication section, for
// lb's /metrics (docs/metrics.md).
#pragma once

#include "control/report/metric_builder.hpp"
#include "control/report/stats_view.hpp"

namespace lb::control::report::metrics {

// Nothing when the view has no replication part (the module is not configured).
void add_replication_families(Families& out, const StatsView& view);

} // namespace lb::control::report::metrics
