// Reads a YAML configuration into a Config, collecting every error with its location instead of
// stopping at the first one, so that `lb --check` can report them all at once.
#pragma once

#include <optional>
#include <string>

#include "control/config/diagnostic.hpp"
#include "control/config/model.hpp"

namespace lb::control::config {

struct LoadResult {
    std::optional<Config> config; // set only when there are no diagnostics
    Diagnostics diagnostics;
};

// Parses and validates (syntax, unknown keys, types, and the semantic rules in
// config_validator). Never throws for bad input.
LoadResult load_config_text(const std::string& yaml_text);
LoadResult load_config_file(const std::string& path);

} // namespace lb::control::config
