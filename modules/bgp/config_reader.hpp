// Reads the `bgp` section: BIRD, neighbours, what to announce, timers (README, "Scaling out").
#pragma once

#include <yaml-cpp/yaml.h>

#include "control/config/model.hpp"
#include "control/config/section_reader.hpp"

namespace lb::control::config {

// The `bgp` section into c.bgp.
void read_bgp_section(Reader& r, const YAML::Node& n, Config& c);

} // namespace lb::control::config
