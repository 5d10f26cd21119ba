// VRRP's families (lb_vrrp_*), present only with VRRP instances, for lb's /metrics
// (docs/metrics.md).
#pragma once

#include "control/report/metric_builder.hpp"
#include "control/report/stats_view.hpp"

namespace lb::control::report::metrics {

void add_vrrp_families(Families& out, const control::report::VrrpReport& vrrp);

} // namespace lb::control::report::metrics
