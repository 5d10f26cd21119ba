// An error found in a configuration file, printed as `FILE:LINE:COLUMN: message`.
#pragma once

#include <string>
#include <vector>

#include "control/config_model.hpp"

namespace lb::config {

struct Diagnostic {
    Location location;
    std::string message;
};

using Diagnostics = std::vector<Diagnostic>;

std::string format_diagnostic(const std::string& file, const Diagnostic& d);

} // namespace lb::config
