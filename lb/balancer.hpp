// A running balancer: the DPDK resources, the shared tables, the workers, and the published
// snapshot, with the operations the control side performs on them (statistics, reload, weight
// changes). Everything lives between EAL initialisation and cleanup and is destroyed in reverse.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "control/config/model.hpp"
#include "control/config/reload_plan.hpp"
#include "control/identity_registry.hpp"
#include "control/json_text.hpp"
#include "control/report/module_reports.hpp"
#include "control/report/stats_view.hpp"
#include "control/snapshot_builder.hpp"
#include "dataplane/dataplane.hpp"
#include "modules/health/monitor.hpp"

namespace lb::app {

struct ChangeOutcome {
    bool applied = false;
    std::vector<std::string> messages; // errors (with FILE:LINE:COLUMN) or notes
};

class Balancer {
  public:
    Balancer(control::config::Config config, std::string config_path);
    ~Balancer();
    Balancer(const Balancer&) = delete;
    Balancer& operator=(const Balancer&) = delete;

    void start_workers();
    void stop_workers();

    // Applies a reload prepared off the control loop (lb/config_reloader): a refused plan
    // changes nothing; settings that need a restart (DPDK, interfaces, table sizes) already
    // carry their running values in the plan, which reports them.
    ChangeOutcome apply_reload(control::config::ReloadPlan plan);
    // Changes one real server's weight in the running configuration (0 drains it). `server`
    // is ADDRESS or ADDRESS:PORT. Until the next reload, which restores the file's weights.
    ChangeOutcome set_weight(const std::string& service, const std::string& server,
                             std::uint32_t weight);

    // Health: servers failing their checks are drained in the published snapshot.
    void set_down(control::health::DownSet down);
    // What the feature modules publish for lbctl, the stats file and the metrics: stats_view()
    // puts their parts around the dataplane's counters.
    control::report::ModuleReports& reports() { return reports_; }
    const control::report::ModuleReports& reports() const { return reports_; }
    // The control loop's lateness (ms), the largest since the last stats write.
    void record_loop_lag(double ms);

    // Every counter, the tables' fill, health, VRRP, the loop's lateness and the devices' own
    // counters, read at once under the state lock: what lbctl, the stats file and the metrics
    // endpoint (on its own thread) render.
    control::report::StatsView stats_view() const;
    control::Json stats() const;    // the view as the stats document
    std::string stats_json() const; // the same, as the stats file has it
    void write_stats() const;

    // Held while the running configuration or snapshot is replaced; readers on other threads
    // (the metrics exposer) hold it while they look at them.
    std::mutex& state_mutex() const { return state_mutex_; }
    const control::config::Config& config() const { return config_; }
    const std::string& config_path() const { return config_path_; }
    const control::IdentityRegistry& registry() const { return registry_; }
    const dataplane::Snapshot& snapshot() const { return *snapshot_; }
    dataplane::DataplaneContext& context() { return dataplane_.context(); }
    const dataplane::DataplaneContext& context() const { return dataplane_.context(); }
    rte_mempool* pool() { return dataplane_.pool(); }
    dataplane::Dataplane& dataplane() { return dataplane_; }
    const std::vector<control::PortBinding>& ports() const { return ports_; }

  private:
    // Builds the snapshot of `next`, swaps it in once no worker can still read the old one,
    // and keeps `next` as the running configuration. Throws on dataplane limits.
    void publish(control::config::Config next);
    // The workers' own counters; stats_view() is the one place that adds them up.
    std::vector<const dataplane::WorkerCounters*> counters() const;

    mutable std::mutex state_mutex_;
    control::config::Config config_;
    std::string config_path_;
    control::health::DownSet down_;
    control::report::ModuleReports reports_;
    mutable double loop_lag_max_ms_ = 0;
    // Destroyed after the ports (stopped in ~Balancer) and the snapshots the workers read.
    dataplane::Dataplane dataplane_;
    control::IdentityRegistry registry_;
    std::vector<control::PortBinding> ports_;
    std::unique_ptr<dataplane::Snapshot> snapshot_;
};

} // namespace lb::app
