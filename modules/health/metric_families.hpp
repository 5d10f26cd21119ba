// The health checks' families: failures and durations of every check, for lb's /metrics
// (docs/metrics.md).
#pragma once

#include "control/report/metric_builder.hpp"
#include "control/report/stats_view.hpp"
#include "modules/health/monitor.hpp"

namespace lb::control::report::metrics {

void add_health_families(Families& out, const StatsView& view);

} // namespace lb::control::report::metrics
