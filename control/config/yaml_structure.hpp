// A first pass over the YAML events of a configuration, before any value is read, for what
// yaml-cpp accepts silently but a configuration must not hold: a key given twice in one mapping
// (yaml-cpp keeps both and `map["key"]` sees only the first), a second document, text that is
// not valid UTF-8, values over max_value_bytes, and aliases that expand the document by more
// than max_alias_nodes. Events, not nodes, because an alias is visible only as an event.
#pragma once

#include <string>

#include <yaml-cpp/mark.h>

#include "control/config/diagnostic.hpp"

namespace lb::control::config {

// Appends an error for each problem found. Throws YAML::ParserException on a syntax error
// (yaml-cpp's own depth limit included), as YAML::Load would.
void check_yaml_structure(const std::string& text, Diagnostics& out);

// Where yaml-cpp's mark points (1-based). A null mark (some exceptions carry none) is the top
// of the file, never line 0, which means "the file as a whole".
Location location_of(const YAML::Mark& m);

// Whether `text` is valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF);
// if not, `bad_at` is the offset of the first byte that is not.
bool valid_utf8(const std::string& text, std::size_t& bad_at);

} // namespace lb::control::config
