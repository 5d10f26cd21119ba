// The statistics view (control/stats_view) as Prometheus metric families, prometheus-cpp's data
// model, which lb/metrics serves on /metrics. Names, labels and meanings: docs/metrics.md.
#pragma once

#include <vector>

#include <prometheus/metric_family.h>

#include "control/report/stats_view.hpp"

namespace lb::app {

// Every family but lb_build_info. `busy_ratio`: per worker, the share of busy polling rounds
// since the previous scrape, which only the endpoint can know (lb/metrics keeps the counts).
std::vector<prometheus::MetricFamily> metric_families(const control::report::StatsView& view,
                                                      const std::vector<double>& busy_ratio);

} // namespace lb::app
