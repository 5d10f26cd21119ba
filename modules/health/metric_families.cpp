#include "modules/health/metric_families.hpp"

#include <limits>

namespace lb::control::report::metrics {

namespace {

ClientMetric duration_histogram(const control::health::HealthStatus& h, Labels labels) {
    ClientMetric m;
    m.label = std::move(labels);
    m.histogram.sample_count = h.checks_total;
    m.histogram.sample_sum = h.duration_sum;
    for (std::size_t i = 0; i < control::health::check_duration_buckets.size(); ++i)
        m.histogram.bucket.push_back(
            {h.duration_buckets[i], control::health::check_duration_buckets[i]});
    m.histogram.bucket.push_back({h.checks_total, std::numeric_limits<double>::infinity()});
    return m;
}

} // namespace

void add_health_families(Families& out, const StatsView& view) {
    const auto& health = view.health;
    auto failures = family("lb_real_server_health_check_failures_total",
                           "Failed health checks per real server", MetricType::Counter);
    auto durations = family("lb_health_check_duration_seconds",
                            "How long health checks took, per real server", MetricType::Histogram);
    for (const auto& h : health) {
        const auto& [service, address, port] = h.server;
        const Labels labels{{"service", service},
                            {"server", control::report::server_name(address, port)},
                            {"check", h.check}};
        add(failures, labels, number(h.failures_total));
        durations.metric.push_back(duration_histogram(h, labels));
    }
    out.push_back(std::move(failures));
    out.push_back(std::move(durations));
}

} // namespace lb::control::report::metrics
