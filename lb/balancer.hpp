// A running balancer: the DPDK resources, the shared tables, the workers, and the published
// snapshot, with the operations the control side performs on them (statistics, reload, weight
// changes). Everything lives between EAL initialisation and cleanup and is destroyed in reverse.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "control/config_model.hpp"
#include "control/health_monitor.hpp"
#include "control/identity_registry.hpp"
#include "control/json_text.hpp"
#include "control/snapshot_builder.hpp"
#include "control/vrrp_router.hpp"
#include "dataplane/dataplane.hpp"
#include "lb/reload_plan.hpp"

namespace lb::app {

struct ChangeOutcome {
    bool applied = false;
    std::vector<std::string> messages; // errors (with FILE:LINE:COLUMN) or notes
};

class Balancer {
  public:
    Balancer(config::Config config, std::string config_path);
    ~Balancer();
    Balancer(const Balancer&) = delete;
    Balancer& operator=(const Balancer&) = delete;

    void start_workers();
    void stop_workers();

    // Applies a reload prepared off the control loop (lb/config_reloader): a refused plan
    // changes nothing; settings that need a restart (DPDK, interfaces, table sizes) already
    // carry their running values in the plan, which reports them.
    ChangeOutcome apply_reload(ReloadPlan plan);
    // Changes one real server's weight in the running configuration (0 drains it). `server`
    // is ADDRESS or ADDRESS:PORT. Until the next reload, which restores the file's weights.
    ChangeOutcome set_weight(const std::string& service, const std::string& server,
                             std::uint32_t weight);

    // Health: servers failing their checks are drained in the published snapshot.
    void set_down(control::DownSet down);
    void set_health(std::vector<control::HealthStatus> statuses); // for lbctl and metrics
    std::vector<control::HealthStatus> health() const;
    // VRRP, for lbctl and metrics: each instance's state and the discarded advertisements.
    struct VrrpReport {
        std::vector<control::vrrp::InstanceStatus> instances;
        std::array<std::uint64_t, control::vrrp::discard_reasons> discarded{};
        std::uint64_t notify_fifo_lost = 0;
    };
    void set_vrrp(VrrpReport report);
    VrrpReport vrrp() const;
    // The control loop's lateness (ms), the largest since the last stats write.
    void record_loop_lag(double ms);
    double loop_lag_max_ms_unlocked() const { return loop_lag_max_ms_; } // under state_mutex()

    control::Json stats() const;    // every counter, health and the loop's lateness
    std::string stats_json() const; // the same, as the stats file has it
    std::vector<const dataplane::WorkerCounters*> counters() const;
    void write_stats() const;

    // Held while the running configuration or snapshot is replaced; readers on other threads
    // (the metrics exposer) hold it while they look at them.
    std::mutex& state_mutex() const { return state_mutex_; }
    const config::Config& config() const { return config_; }
    const std::string& config_path() const { return config_path_; }
    const control::IdentityRegistry& registry() const { return registry_; }
    const dataplane::Snapshot& snapshot() const { return *snapshot_; }
    dataplane::DataplaneContext& context() { return dataplane_.context(); }
    const dataplane::DataplaneContext& context() const { return dataplane_.context(); }
    rte_mempool* pool() { return dataplane_.pool(); }
    const std::vector<control::PortBinding>& ports() const { return ports_; }

  private:
    // Builds the snapshot of `next`, swaps it in once no worker can still read the old one,
    // and keeps `next` as the running configuration. Throws on dataplane limits.
    void publish(config::Config next);

    mutable std::mutex state_mutex_;
    config::Config config_;
    std::string config_path_;
    control::DownSet down_;
    std::vector<control::HealthStatus> health_;
    VrrpReport vrrp_;
    mutable double loop_lag_max_ms_ = 0;
    // Destroyed after the ports (stopped in ~Balancer) and the snapshots the workers read.
    dataplane::Dataplane dataplane_;
    control::IdentityRegistry registry_;
    std::vector<control::PortBinding> ports_;
    std::unique_ptr<dataplane::Snapshot> snapshot_;
};

} // namespace lb::app
