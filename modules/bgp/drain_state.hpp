// Whether the operator drained this node (lbctl drain-node), kept in a small file across
// restarts: a node taken out of the ECMP group for maintenance must not rejoin it because lb
// restarted or the host rebooted. The file exists while the node is drained (and says since
// when); `lbctl drain-node --undo` removes it. A file that is there but cannot be read or
// understood still means drained: the operator's last word was a drain, and a node that stays
// out is the safe side behind ECMP (the others carry its flows), said in the log with the undo.
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace lb::control::bgp {

using WallClock = std::chrono::system_clock;

struct DrainState {
    bool drained = false;
    std::optional<WallClock::time_point> since; // nullopt: not drained, or the file does not say
    // Why the file could not be read or understood (the node is then drained): for the log.
    std::optional<std::string> warning;
};

// A state file that cannot be written or removed: the message names the file and the system's
// reason, e.g. "cannot write /var/lib/lb/node-drained.tmp: Permission denied".
class DrainStateError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// What the file at `path` says; a missing file (or folder) is a node that is not drained.
DrainState read_drain_state(const std::string& path);

// Records that the node is drained since `since` (durably: control/state_file.hpp), or that it
// is not (the file removed). Throws DrainStateError.
void write_drain_state(const std::string& path, bool drained, WallClock::time_point since);

// The file's text, and its reading (nullopt: no "drained_since_unix_ms" line with a number).
std::string drain_state_text(WallClock::time_point since);
std::optional<WallClock::time_point> parse_drain_state_text(std::string_view text);

} // namespace lb::control::bgp
