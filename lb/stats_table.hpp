// `lbctl stats` for people: the stats document (the stats file's JSON) flattened to one
// "path value" line per field, e.g. `services.web.real_servers.203.0.113.11:8080.weight 1`.
// Flat lines rather than a hand-made layout, so that every counter the JSON gains shows here
// too, and `grep` finds it.
#pragma once

#include <string>

#include "control/json_text.hpp"

namespace lb::app {

std::string stats_table(const control::Json& stats);

} // namespace lb::app
