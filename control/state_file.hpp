// Small state files lb keeps across restarts (the replication epoch, the node's drained flag):
// written so that after a crash or a power cut the next start reads the old content or the new
// one, never a part of either, nor an empty file.
#pragma once

#include <optional>
#include <string>

namespace lb::control {

// Writes `text` to `path` through `path`.tmp: write, fsync, rename, then fsync of the folder so
// that the rename itself is on disk. nullopt when done, else why not, naming the file and the
// system's reason (e.g. "cannot write /var/lib/lb/x.tmp: Read-only file system"): callers keep
// running and say what the failure costs.
std::optional<std::string> write_state_file(const std::string& path, const std::string& text);

// Removes `path` and makes the removal durable (fsync of its folder). A file already absent is
// not a problem. nullopt when done, else why not.
std::optional<std::string> remove_state_file(const std::string& path);

} // namespace lb::control
