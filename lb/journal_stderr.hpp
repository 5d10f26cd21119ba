// Log priorities for the journal. lb logs one line per event on stderr ("lb: ...",
// "lb: warning: ...", "lb: error: ..."). Under systemd, stderr is a stream to journald, which
// reads a leading "<N>" as the line's syslog priority (sd-daemon(3)). When JOURNAL_STREAM names
// our stderr (systemd sets it for services whose output goes to the journal), every line lb
// writes through C stdio's stderr gets its prefix: <3> for errors, <4> for warnings, <6> for
// the rest. Elsewhere (a terminal, a test's log file) nothing changes.
#pragma once

#include <string_view>

namespace lb::app {

// syslog priority of one log line, from its wording.
int log_priority(std::string_view line);

// True when JOURNAL_STREAM's "DEVICE:INODE" is the file behind fd 2.
bool stderr_is_journal();

// Replaces C's `stderr` with a stream that prefixes each line; call first thing in main, before
// any thread starts. Returns false (and changes nothing) when stderr is not the journal.
bool prefix_stderr_for_journal();

} // namespace lb::app
