#include "lb/metrics.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <rte_version.h>

#include "lb/metric_families.hpp"

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

MetricsEndpoint::MetricsEndpoint(const std::string& listen, const Balancer& balancer)
    : collector_(std::make_shared<MetricsCollector>(balancer)) {
    try {
        exposer_ = std::make_unique<prometheus::Exposer>(listen, 2);
    } catch (const std::exception& e) {
        throw std::runtime_error(
            fmt::format("stats.listen {}: cannot serve metrics there: {}", listen, e.what()));
    }
    exposer_->RegisterCollectable(collector_);
}

MetricsEndpoint::~MetricsEndpoint() = default;

} // namespace lb::app
