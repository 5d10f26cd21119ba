// Sums the per-worker counters and renders them as JSON: what tests read today through
// `stats.file`, and what the Prometheus endpoint will expose later.
#pragma once

#include <string>
#include <vector>

#include "control/config_model.hpp"
#include "control/identity_registry.hpp"
#include "dataplane/counters.hpp"
#include "dataplane/dataplane_context.hpp"

namespace lb::control {

std::string render_stats_json(const config::Config& config, const IdentityRegistry& registry,
                              const std::vector<const dataplane::WorkerCounters*>& workers,
                              const dataplane::DataplaneContext& context);

// Writes atomically (temporary file, then rename) so readers never see half a file.
void write_file_atomically(const std::string& path, const std::string& content);

} // namespace lb::control
