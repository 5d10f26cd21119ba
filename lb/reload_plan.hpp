// The part of a reload that needs no running state: read, parse and validate the file, and keep
// the running values of what only a restart changes. It runs on the reload thread
// (lb/config_reloader) with a copy of the running configuration, so that a large file never
// stalls the control loop; the plan is then applied on the loop (Balancer::apply_reload).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "control/config/model.hpp"

namespace lb::app {

struct ReloadPlan {
    std::optional<control::config::Config> next; // unset: the file is refused, `messages` say why
    std::vector<std::string>
        messages; // errors (at most control::config::max_errors_shown) or notes
};

ReloadPlan plan_reload(const std::string& path, const control::config::Config& running);

} // namespace lb::app
