// Every limit on what a configuration may hold, in one place (README, "Robustness"). They exist
// so that no file, however large or strange, can make `lb --check` or a reload slow, huge or
// crash: each is far above what a real configuration needs.
#pragma once

#include <cstddef>

namespace lb::control::config {

// A file's size, checked before it is read. A configuration with thousands of services is well
// under 1 MiB.
inline constexpr std::size_t max_config_bytes = 4 * 1024 * 1024;

// Any single value (a command, a path, a string to send), in bytes.
inline constexpr std::size_t max_value_bytes = 4096;

// A name (node, interface, service, VRRP instance, script, sync group), in bytes.
inline constexpr std::size_t max_name_bytes = 64;

// A health check's regular expression, in bytes; RE2's own limits refuse the rest.
inline constexpr std::size_t max_regex_length = 1024;

// How many nodes YAML aliases (`*name`) may add to the document in all: a few references are
// convenient, a "billion laughs" of nested aliases must not make the readers walk forever.
inline constexpr std::size_t max_alias_nodes = 100'000;

// Errors printed by `lb --check`, at start-up and in a reload's answer; the rest are counted.
inline constexpr std::size_t max_errors_shown = 20;

} // namespace lb::control::config
