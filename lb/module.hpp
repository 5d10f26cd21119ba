// What the control loop sees of a feature module (modules/*): one interface, so that the loop
// wires every module the same way and a new feature is a new folder plus one line in
// lb/module_list.cpp. The module's driver does its I/O on the control thread's event loop; this
// interface is the loop's view of it: start, reconfigure after a reload, the 100 ms tick, the
// events other parts of lb raise, reporting, lbctl requests and an orderly stop.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "control/admin_socket.hpp"
#include "control/config/reload_plan.hpp"
#include "control/report/metric_builder.hpp"
#include "control/report/table_collector.hpp"
#include "lb/admin_request.hpp"
#include "lb/balancer.hpp"
#include "modules/health/monitor.hpp"

namespace lb::app {

// What a module may use of the application: the loop, the dataplane, health checks' verdicts,
// the table sweep's expiries, and the modules' shared events.
struct ModuleContext {
    boost::asio::io_context& io;
    Balancer& balancer;
    const control::health::HealthMonitor& health;
    control::report::TableCollector& collector;
    // Whether VRRP may preempt (a reason while it may not): raised by replication until the
    // table is in sync, heard by every module (Module::hold_preemption).
    std::function<void(std::optional<std::string>)> hold_preemption;
};

class Module {
  public:
    virtual ~Module() = default;

    virtual const char* name() const = 0;
    // After every module is built, in lb/module_list.cpp's order.
    virtual void start() = 0;
    // An applied reload: the running configuration (context.balancer.config()) changed;
    // `reads` is what the reload read besides the file (replication takes its keys there).
    virtual void on_reload_applied(const control::config::ReloadReads& /*reads*/) {}
    // Health verdicts or weights changed (a quorum may have been crossed).
    virtual void on_health_change() {}
    // Every 100 ms: what has no event of its own (links) is looked at here.
    virtual void tick() {}
    // Publish the module's part of the statistics view now (control/report/module_reports).
    virtual void report() {}
    // Whether VRRP may preempt changed (see ModuleContext::hold_preemption).
    virtual void hold_preemption(const std::optional<std::string>&) {}
    // An lbctl request this module answers (nullopt: not this module's).
    virtual std::optional<control::AdminAnswer> answer(const AdminRequest&) { return {}; }
    // A clean stop, in the reverse of lb/module_list.cpp's order: `done` once this module has
    // finished (BGP withdraws and drains, VRRP resigns), and the next one stops.
    virtual void shutdown(std::function<void()> done) { done(); }
};

// One kind of module: whether the configuration asks for it, how to build it, its lbctl view
// (its commands are in lb/module_commands.cpp) and its metric families.
struct ModuleKind {
    const char* name;
    bool (*configured)(const control::config::Config&);
    std::unique_ptr<Module> (*make)(ModuleContext&);
    // A reload that brings the module's section starts it (else: at the next restart).
    bool starts_on_reload;
    // Its lbctl view (ModuleCommand::view): answered from the module's published report
    // (fresh: the control loop has every module report first), also when the module is not
    // configured (it says so).
    control::AdminAnswer (*view)(const Balancer&, const AdminRequest&);
    // Its families on the metrics endpoint, from its part of the statistics view (none when
    // that part is absent).
    void (*families)(control::report::metrics::Families&, const control::report::StatsView&);
    // The workers emit connection events for it (dataplane/sync_events.hpp) when configured:
    // the dataplane is sized for them at start.
    bool session_events;
};

// Every module lb has, in start order (lb/module_list.cpp).
const std::vector<ModuleKind>& module_kinds();
// The module called `name` (nullptr: none is).
const ModuleKind* module_named(std::string_view name);

} // namespace lb::app
