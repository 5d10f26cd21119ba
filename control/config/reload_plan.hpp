// The part of a reload that needs no running state: read, parse and validate the file, and keep
// the running values of what only a restart changes. It runs on the reload thread
// (lb/config_reloader) with a copy of the running configuration, so that a large file never
// stalls the control loop; the plan is then applied on the loop (lb/balancer: apply_reload).
//
// Every top-level key is either applied or reported as "needs restart: KEY", decided by the
// model's value equality (control/config_model.hpp), never by lists of fields: a field added to
// a section is compared with it, and a section added to Config fails to build until
// reload_plan.cpp says which of the two it is.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/config/key_file.hpp"
#include "control/config/model.hpp"

namespace lb::control::config {

// What a reload read besides the configuration itself, for the running modules that take it
// (lb/module.hpp, Module::on_reload_applied): each takes its part.
struct ReloadReads {
    // When the file replicates: both keys as read for this reload. They are read at every
    // reload, whether their paths changed or not (a key may be replaced under the same name);
    // a file whose keys cannot be read is refused, and the running keys stay.
    std::optional<ReplicationKeys> replication_keys;
};

struct ReloadPlan {
    std::optional<Config> next;        // unset: the file is refused, `messages` say why
    std::vector<std::string> messages; // errors (at most max_errors_shown) or notes
    ReloadReads reads;                 // with `next`
};

ReloadPlan plan_reload(const std::string& path, const Config& running);

// The same for a file already loaded and validated as `next` (`path` names it in messages).
ReloadPlan plan_reload(Config next, const Config& running, const std::string& path);

// The keys whose running values a reload from `running` to `next` keeps, in file order
// ("interfaces", "tables", "dpdk", "node.name", "stats.listen", "admin.socket", "replication").
// `replication` counts without its key files, which a reload applies.
std::vector<std::string> restart_only_changes(const Config& running, const Config& next);

// The log lines of a refused reload, one per line of `messages` (the refusal's text, or lbctl's
// JSON answer): "lb: warning: VIA refused: MESSAGE". The running configuration is kept, so it is
// not an error, but an operator must see it: under the journal the word "warning" makes each line
// priority 4 (lb/journal_stderr.hpp), shown by `journalctl -p warning`. `via` says what asked:
// "reload (SIGHUP)" or "lbctl reload".
std::string refused_reload_log(std::string_view via, std::string_view messages);

} // namespace lb::control::config
