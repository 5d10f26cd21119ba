// Building Prometheus metric families (prometheus-cpp's data model) from the statistics view:
// the small vocabulary lb/metric_families.cpp and every module's metric_families.cpp share.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

namespace lb::control::report::metrics {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;
using Families = std::vector<MetricFamily>;

inline MetricFamily family(const char* name, const char* help, MetricType type) {
    MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    return f;
}

inline void add(MetricFamily& f, Labels labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    if (f.type == MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    f.metric.push_back(std::move(m));
}

inline double number(std::uint64_t value) {
    return static_cast<double>(value);
}

inline Labels with(Labels labels, const char* name, const char* value) {
    labels.push_back({name, value});
    return labels;
}

} // namespace lb::control::report::metrics
