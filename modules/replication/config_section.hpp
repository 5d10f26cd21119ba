// Reads the `replication` section: peers, keys, epoch file, timing (README, "Failover without
// losing connections").
#pragma once

#include <yaml-cpp/yaml.h>

#include "control/config/model.hpp"
#include "control/config/section_reader.hpp"

namespace lb::control::config {

// The `replication` section into c.replication.
void read_replication_section(Reader& r, const YAML::Node& n, Config& c);

// The replication section's rules across values (peers on an interface, keys, files).
void validate_replication_section(const Config& c, Diagnostics& out);

} // namespace lb::control::config
