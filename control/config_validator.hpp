// Semantic rules that span several values: duplicate names, conflicting VIP ports, DR
// constraints, reachability of real servers. Runs on a Config that parsed cleanly.
#pragma once

#include "control/config_model.hpp"
#include "control/diagnostic.hpp"

namespace lb::config {

void validate_config(const Config& config, Diagnostics& out);

} // namespace lb::config
