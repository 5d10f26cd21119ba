// The replication key file (`replication.key_file`): its rules in one place, for `lb --check`
// (the validator) and for the node that reads it at start-up. A shared secret of at least 32 bytes
// (the file's bytes, less one trailing newline, so `openssl rand -hex 32 > FILE` and `head -c 32
// /dev/urandom > FILE` both work), in a regular file owned by root (or by the user lb runs as) that
// neither group nor others may read or write. Each file is opened once and every rule is checked on
// that open file, so that what is read is what was checked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lb::control::config {

constexpr std::size_t min_replication_key_bytes = 32;
constexpr std::size_t max_replication_key_bytes = 4096;

// What is wrong with the file, in words an operator can act on; nullopt when it is usable.
std::optional<std::string> key_file_problem(const std::string& path);

// The key's bytes. Throws std::runtime_error ("replication.key_file: " and key_file_problem's
// words).
std::vector<std::uint8_t> read_key_file(const std::string& path);

} // namespace lb::control::config
