#include "lb/metrics.hpp"

#include <chrono>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <rte_version.h>

#include "lb/metric_families.hpp"
#include "lb/metrics_http.hpp"

namespace lb::app {

using prometheus::MetricFamily;

namespace {

MetricFamily build_info() {
    MetricFamily f;
    f.name = "lb_build_info";
    f.help = "lb build: version and DPDK version";
    f.type = prometheus::MetricType::Gauge;
    prometheus::ClientMetric m;
    m.label = {{"version", LB_VERSION}, {"dpdk", rte_version()}};
    m.gauge.value = 1;
    f.metric.push_back(std::move(m));
    return f;
}

} // namespace

std::vector<double>
MetricsCollector::busy_ratios(const std::vector<control::report::WorkerView>& workers) const {
    std::lock_guard lock(previous_mutex_);
    previous_polls_.resize(workers.size());
    std::vector<double> out;
    for (std::size_t i = 0; i < workers.size(); ++i) {
        const std::uint64_t busy = workers[i].busy_polls;
        const std::uint64_t idle = workers[i].idle_polls;
        const auto [previous_busy, previous_idle] = previous_polls_[i];
        const double rounds = static_cast<double>((busy - previous_busy) + (idle - previous_idle));
        out.push_back(rounds > 0 ? static_cast<double>(busy - previous_busy) / rounds : 0);
        previous_polls_[i] = {busy, idle};
    }
    return out;
}

std::vector<MetricFamily> MetricsCollector::Collect() const {
    const control::report::StatsView view =
        balancer_.stats_view(); // under the balancer's state lock
    std::vector<MetricFamily> out{build_info()};
    for (auto& f : metric_families(view, busy_ratios(view.workers)))
        out.push_back(std::move(f));
    return out;
}

ScrapeMetrics::ScrapeMetrics() : registry_(std::make_unique<prometheus::Registry>()) {
    scrapes_ = &prometheus::BuildCounter()
                    .Name("lb_metrics_scrapes_total")
                    .Help("Scrapes of /metrics answered")
                    .Register(*registry_)
                    .Add({});
    bytes_ = &prometheus::BuildCounter()
                  .Name("lb_metrics_transferred_bytes_total")
                  .Help("Bytes of /metrics answers (bodies) sent")
                  .Register(*registry_)
                  .Add({});
    // A scrape takes well under a millisecond for a few services, tens of milliseconds for
    // thousands of real servers.
    duration_ =
        &prometheus::BuildHistogram()
             .Name("lb_metrics_scrape_duration_seconds")
             .Help("How long collecting and rendering a scrape took")
             .Register(*registry_)
             .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                              0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
}

ScrapeMetrics::~ScrapeMetrics() = default;

void ScrapeMetrics::served(std::size_t bytes, double seconds) {
    scrapes_->Increment();
    bytes_->Increment(static_cast<double>(bytes));
    duration_->Observe(seconds);
}

std::vector<MetricFamily> ScrapeMetrics::collect() const {
    return registry_->Collect();
}

MetricsEndpoint::MetricsEndpoint(const std::string& listen, const Balancer& balancer)
    : collector_(balancer),
      server_(std::make_unique<MetricsHttpServer>(listen, [this] { return scrape(); })) {}

MetricsEndpoint::~MetricsEndpoint() = default;

std::string MetricsEndpoint::scrape() {
    const auto start = std::chrono::steady_clock::now();
    std::vector<MetricFamily> families = collector_.Collect();
    // This scrape is counted in the next one, as it is not over yet.
    for (auto& f : scrape_metrics_.collect())
        families.push_back(std::move(f));
    std::string text = prometheus::TextSerializer().Serialize(families);
    scrape_metrics_.served(
        text.size(),
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return text;
}

} // namespace lb::app
