// VIP announcement's families (lb_bgp_*), present only with a bgp section, for lb's /metrics
// (docs/metrics.md).
#pragma once

#include "control/report/metric_builder.hpp"
#include "control/report/stats_view.hpp"

namespace lb::control::report::metrics {

void add_bgp_families(Families& out, const control::report::BgpReport& r);

} // namespace lb::control::report::metrics
