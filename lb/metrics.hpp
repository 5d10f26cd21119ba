// The Prometheus endpoint: every scrape reads the balancer's statistics view
// (control/stats_view) and renders it as metric families (lb/metric_families, prometheus-cpp's
// data model and text format); nothing is kept twice. lb/metrics_http serves them. Metric names
// and meanings: docs/metrics.md.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "lb/balancer.hpp"

namespace prometheus {
class Counter;
class Histogram;
class Registry;
} // namespace prometheus

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

// The endpoint's own families, about scrapes (lb_metrics_*), under lb's prefix and in base units:
// what prometheus-cpp's Exposer would count as exposer_*, its latency in microseconds.
class ScrapeMetrics {
  public:
    ScrapeMetrics();
    ~ScrapeMetrics();
    void served(std::size_t bytes, double seconds);
    std::vector<prometheus::MetricFamily> collect() const;

  private:
    std::unique_ptr<prometheus::Registry> registry_;
    prometheus::Counter* scrapes_;
    prometheus::Counter* bytes_;
    prometheus::Histogram* duration_;
};

class MetricsHttpServer;

// Serves /metrics on `listen` (ADDRESS:PORT) until destroyed, on a thread of its own. Throws
// std::runtime_error with a clear message if the address cannot be bound.
class MetricsEndpoint {
  public:
    MetricsEndpoint(const std::string& listen, const Balancer& balancer);
    ~MetricsEndpoint();

  private:
    // The text of one scrape: lb's families, then the endpoint's own.
    std::string scrape();

    MetricsCollector collector_;
    ScrapeMetrics scrape_metrics_;
    std::unique_ptr<MetricsHttpServer> server_; // last: stopped before what it scrapes goes
};

} // namespace lb::app
