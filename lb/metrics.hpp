// The Prometheus endpoint (prometheus-cpp): every scrape reads the balancer's statistics view
// (control/stats_view) and renders it as metric families (lb/metric_families); nothing is kept
// twice. Metric names and meanings: docs/metrics.md.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include <prometheus/collectable.h>

#include "lb/balancer.hpp"

namespace prometheus {
class Exposer;
}

namespace lb::app {

class MetricsCollector : public prometheus::Collectable {
  public:
    explicit MetricsCollector(const Balancer& balancer) : balancer_(balancer) {}
    std::vector<prometheus::MetricFamily> Collect() const override;

  private:
    // Per worker, the share of busy polling rounds since the previous scrape.
    std::vector<double> busy_ratios(const std::vector<control::report::WorkerView>& workers) const;

    const Balancer& balancer_;
    // Poll counts at the previous scrape, for the busy ratio over the last interval.
    mutable std::mutex previous_mutex_;
    mutable std::vector<std::pair<std::uint64_t, std::uint64_t>> previous_polls_;
};

// Serves /metrics on `listen` (ADDRESS:PORT) until destroyed. Throws std::runtime_error with a
// clear message if the address cannot be bound.
class MetricsEndpoint {
  public:
    MetricsEndpoint(const std::string& listen, const Balancer& balancer);
    ~MetricsEndpoint();

  private:
    std::shared_ptr<MetricsCollector> collector_;
    std::unique_ptr<prometheus::Exposer> exposer_;
};

} // namespace lb::app
