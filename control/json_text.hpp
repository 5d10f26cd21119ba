// The one way the admin side writes JSON (lbctl answers, the stats file, errors): nlohmann's
// ordered_json, so fields keep the order they are written in, serialised so that any text from
// outside (a server's banner in a health check's reason, a name) gives valid JSON: control
// characters are escaped and invalid UTF-8 is replaced by U+FFFD instead of throwing.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace lb::control {

using Json = nlohmann::ordered_json;

// `indent` < 0: one line.
inline std::string json_text(const Json& j, int indent = -1) {
    return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

} // namespace lb::control
