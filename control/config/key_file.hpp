// The replication key files (`replication.key_file`, `replication.previous_key_file`): their
// rules in one place, for `lb --check` (the validator), for the node that reads them at start-up
// and for every reload. A shared secret of at least 32 bytes (the file's bytes, less one
// trailing newline, so `openssl rand -hex 32 > FILE` and `head -c 32 /dev/urandom > FILE` both
// work), in a regular file owned by root (or by the user lb runs as) that neither group nor
// others may read or write. Each file is opened once and every rule is checked on that open
// file, so that what is read is what was checked.
//
// Two keys let a cluster change its key without a window where nodes cannot hear each other:
// a datagram is accepted under either, and sent under `key_file`'s (README, "Key rotation").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control/config/model.hpp"

namespace lb::control::config {

constexpr std::size_t min_replication_key_bytes = 32;
constexpr std::size_t max_replication_key_bytes = 4096;

// What is wrong with the file, in words an operator can act on; nullopt when it is usable.
std::optional<std::string> key_file_problem(const std::string& path);

// The key's bytes. Throws std::runtime_error ("replication.key_file: " and key_file_problem's
// words).
std::vector<std::uint8_t> read_key_file(const std::string& path);

struct ReplicationKeys {
    std::vector<std::uint8_t> current;  // key_file's: sends, and is accepted on receive
    std::vector<std::uint8_t> previous; // previous_key_file's, empty when none: accepted only
};

// A problem with one of the two files; `text` names the file.
struct KeyProblem {
    bool previous = false; // previous_key_file's, else key_file's
    std::string text;
    // "key_file: TEXT" or "previous_key_file: TEXT", as the validator reports it.
    std::string message() const;
};

struct LoadedKeys {
    ReplicationKeys keys;             // meaningful only without problems
    std::vector<KeyProblem> problems; // one per file at most, plus a previous key equal to the
                                      // current one
};

// Both keys of `r`, each file read once. An empty path (the loader has reported it) is skipped.
LoadedKeys load_replication_keys(const Replication& r);

// The same, throwing std::runtime_error ("replication." and the first problem's message).
ReplicationKeys read_replication_keys(const Replication& r);

} // namespace lb::control::config
