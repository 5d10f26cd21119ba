// The statistics view (control/stats_view) as one JSON document: the stats file (`stats.file`)
// and `lbctl --json stats`; `lbctl stats` flattens the same document (lb/stats_table).
#pragma once

#include <string>

#include "control/json_text.hpp"
#include "control/report/stats_view.hpp"

namespace lb::control::report {

// Fields and their order are what scripts read: docs/metrics.md and the e2e tests rely on them.
Json render_stats(const StatsView& view);

// Writes atomically (temporary file, then rename) so readers never see half a file.
void write_file_atomically(const std::string& path, const std::string& content);

} // namespace lb::control::report
