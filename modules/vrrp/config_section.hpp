// Reads the `vrrp` section: instances, sync groups, tracking scripts (README, "High availability").
#pragma once

#include <yaml-cpp/yaml.h>

#include "control/config/model.hpp"
#include "control/config/section_reader.hpp"

namespace lb::control::config {

// The `vrrp` section into c.vrrp; its cross-checks are the validator's
// (control/config/validator.cpp).
void read_vrrp_section(Reader& r, const YAML::Node& n, Config& c);

// The vrrp section's rules across values (instances, interfaces, sync groups, scripts).
void validate_vrrp_section(const Config& c, Diagnostics& out);

} // namespace lb::control::config
