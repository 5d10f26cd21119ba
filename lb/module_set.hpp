// The feature modules running on the control loop (lb/module.hpp), and what the loop does with
// all of them at once: build those the configuration asks for, start them in order, start one
// that a reload brings, pass each event to every one, route an lbctl request, and stop them one
// after the other in reverse order. Apart from the loop's I/O (its sockets, signals and timers),
// so that a unit test drives it with fake modules (test/unit/module_set_test.cpp).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lb/module.hpp"

namespace lb::app {

class ModuleSet {
  public:
    using Make = std::function<std::unique_ptr<Module>(const ModuleKind&)>;
    using Log = std::function<void(const std::string&)>;

    // `kinds` in start order (module_kinds() for lb); `make` builds one (ModuleKind::make with
    // the loop's context); `log` takes a warning line without its "lb: " prefix.
    ModuleSet(const std::vector<ModuleKind>& kinds, Make make, Log log);

    // Builds every module `config` asks for, not started yet. A module that cannot be built
    // throws, and lb does not start.
    void build(const control::config::Config& config);
    void start();
    // An applied reload: every running module follows it first; then each module whose section
    // the reload brings is built and started when its kind allows (ModuleKind::starts_on_reload;
    // replication waits for the next restart). One that cannot start is logged and left out:
    // the rest of the reload stays applied.
    void on_reload_applied(const control::config::Config& config,
                           const control::config::ReloadReads& reads);
    void on_health_change();
    void tick();
    void report();
    // Whether VRRP may preempt (a reason while it may not): kept, passed to every module now
    // and to each module built later.
    void hold_preemption(std::optional<std::string> reason);
    // The first running module's answer to an lbctl request (nullopt: none answers it).
    std::optional<control::AdminAnswer> answer(const AdminRequest& request);
    // Stops the modules one after the other, the last started first, each once the one after
    // it called its `done` (BGP has withdrawn before VRRP resigns); `done` after the first.
    void shutdown(std::function<void()> done);
    // The running modules' names, in start order.
    std::vector<std::string> running() const;

  private:
    bool is_running(const ModuleKind& kind) const;
    std::unique_ptr<Module> make(const ModuleKind& kind);
    void stop_from(std::size_t remaining, std::function<void()> done);

    const std::vector<ModuleKind>& kinds_;
    Make make_;
    Log log_;
    std::vector<std::unique_ptr<Module>> modules_;
    std::optional<std::string> preemption_hold_;
};

} // namespace lb::app
