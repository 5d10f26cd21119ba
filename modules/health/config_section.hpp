// Reads a `health_check` mapping (services, real servers, VRRP tracking scripts).
#pragma once

#include <yaml-cpp/yaml.h>

#include "control/config/model.hpp"
#include "control/config/section_reader.hpp"

namespace lb::control::config {

// Reads a health_check mapping on top of `base` (the service's, for a server's override).
HealthCheck read_health_check(Reader& r, const YAML::Node& n, HealthCheck base);

} // namespace lb::control::config
