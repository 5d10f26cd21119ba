// An error found in a configuration file, printed as `FILE:LINE:COLUMN: message`.
#pragma once

#include <string>
#include <vector>

#include "control/config/limits.hpp"
#include "control/config/model.hpp"

namespace lb::control::config {

struct Diagnostic {
    Location location;
    std::string message;
};

using Diagnostics = std::vector<Diagnostic>;

std::string format_diagnostic(const std::string& file, const Diagnostic& d);

// The first `limit` diagnostics formatted, then "... and N more errors" if there are more: a
// broken file must not print a million lines (into a terminal, a log, or a reload's answer).
std::vector<std::string> format_diagnostics(const std::string& file, const Diagnostics& all,
                                            std::size_t limit = max_errors_shown);

} // namespace lb::control::config
