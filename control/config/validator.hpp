// Semantic rules that span several values: duplicate names, conflicting VIP ports, DR
// constraints, reachability of real servers. Runs on a Config that parsed cleanly.
#pragma once

#include "control/config/diagnostic.hpp"
#include "control/config/model.hpp"

namespace lb::control::config {

void validate_config(const Config& config, Diagnostics& out);

} // namespace lb::control::config
