// The replication epoch: which run of this node a peer is hearing. It must only grow across
// restarts, or the peer takes the new run for a replay of an old one and waits for the old one
// to fall silent first (modules/replication/peer_link.hpp). The wall clock alone cannot promise
// that (an RTC that is wrong at boot, NTP stepping it back), so the last epoch is kept in a file
// and each start takes one larger than both it and the clock. A file that cannot be read or written
// costs only that promise: the clock decides, and the peer's rule for a silent run still lets
// the node in after peer_timeout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace lb::control::replication {

struct EpochChoice {
    std::uint64_t epoch = 0;
    // Why the file could not be used (the node runs on, on the wall clock): for the log.
    std::optional<std::string> warning;
};

// The epoch for this run: max(wall_clock_us, the file's last epoch + 1), written back to `path`
// (control/state_file.hpp) before it is used.
EpochChoice next_epoch(const std::string& path, std::uint64_t wall_clock_us);

} // namespace lb::control::replication
