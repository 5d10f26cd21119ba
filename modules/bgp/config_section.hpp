// Reads the `bgp` section: BIRD, neighbours, what to announce, timers (README, "Scaling out").
#pragma once

#include <yaml-cpp/yaml.h>

#include "control/config/model.hpp"
#include "control/config/section_reader.hpp"

namespace lb::control::config {

// The `bgp` section into c.bgp.
void read_bgp_section(Reader& r, const YAML::Node& n, Config& c);

// The bgp section's rules across values (neighbours, announce, files).
void validate_bgp_section(const Config& c, Diagnostics& out);

} // namespace lb::control::config
