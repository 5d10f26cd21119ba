// Sums the per-worker counters into one JSON document: the stats file (`stats.file`) and
// `lbctl stats`. The Prometheus endpoint reads the same counters (lb/metrics).
#pragma once

#include <string>
#include <vector>

#include "control/config/model.hpp"
#include "control/health/monitor.hpp"
#include "control/identity_registry.hpp"
#include "control/json_text.hpp"
#include "dataplane/counters.hpp"
#include "dataplane/dataplane_context.hpp"

namespace lb::control::report {

// `down`: servers drained by their health check, whose weight in effect is 0.
Json render_stats(const config::Config& config, const IdentityRegistry& registry,
                  const std::vector<const dataplane::WorkerCounters*>& workers,
                  const dataplane::DataplaneContext& context, const health::DownSet& down);

// Writes atomically (temporary file, then rename) so readers never see half a file.
void write_file_atomically(const std::string& path, const std::string& content);

} // namespace lb::control::report
