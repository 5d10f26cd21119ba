#include "modules/health/monitor.hpp"

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "control/config/value_parsers.hpp"
#include "control/printable.hpp"

namespace lb::control::health {

namespace {

std::string describe(const ServerKey& k) {
    const auto& [service, address, port] = k;
    return port ? fmt::format("{} {}:{}", service, config::format_ipv4(address), port)
                : fmt::format("{} {}", service, config::format_ipv4(address));
}

// A change of check that must restart it from scratch (anything but its timing).
bool same_check(const config::HealthCheck& a, const config::HealthCheck& b) {
    return a.type == b.type && a.port == b.port && a.method == b.method && a.path == b.path &&
           a.host == b.host && a.expect_status == b.expect_status && a.body_regex == b.body_regex &&
           a.send == b.send && a.expect == b.expect && a.expect_regex == b.expect_regex &&
           a.command == b.command && a.rise == b.rise && a.fall == b.fall;
}

} // namespace

struct HealthMonitor::Target {
    Target(boost::asio::io_context& io, ServerKey k, config::HealthCheck c, CheckTarget t)
        : key(std::move(k)), check(std::move(c)), target(std::move(t)),
          state(check.rise, check.fall), timer(io) {}
    ServerKey key;
    config::HealthCheck check;
    CheckTarget target;
    HealthState state;
    boost::asio::steady_timer timer;
    std::string reason;
    std::uint64_t checks_total = 0;
    std::array<std::uint64_t, check_duration_buckets.size()> buckets{};
    double duration_sum = 0;
    bool retired = false;
};

HealthMonitor::HealthMonitor(boost::asio::io_context& io, OnChange on_change)
    : io_(io), on_change_(std::move(on_change)) {}

HealthMonitor::~HealthMonitor() {
    for (auto& [key, t] : targets_) {
        t->retired = true;
        t->timer.cancel();
    }
}

void HealthMonitor::configure(const config::Config& config) {
    std::map<ServerKey, std::shared_ptr<Target>> next;
    for (const auto& s : config.services) {
        for (const auto& rs : s.real_servers) {
            if (!rs.health_check)
                continue;
            ServerKey key{s.name, rs.address.ipv4(), rs.port.value_or(0)}; // IPv4 only yet
            const config::HealthCheck& check = *rs.health_check;
            CheckTarget target;
            target.address = rs.address.ipv4();
            target.port = check.port.value_or(rs.port.value_or(s.ports.front().first));
            target.label = describe(key);
            if (auto it = targets_.find(key); it != targets_.end() &&
                                              same_check(it->second->check, check) &&
                                              it->second->target.port == target.port) {
                it->second->check = check; // new timing applies from the next round
                next.emplace(key, it->second);
                continue;
            }
            auto t = std::make_shared<Target>(io_, key, check, target);
            schedule(t, check.warmup);
            next.emplace(key, std::move(t));
        }
    }
    for (auto& [key, t] : targets_) {
        if (!next.count(key) || next[key] != t) {
            t->retired = true;
            t->timer.cancel();
        }
    }
    targets_ = std::move(next);
}

void HealthMonitor::schedule(const std::shared_ptr<Target>& t, std::chrono::milliseconds delay) {
    std::weak_ptr<Target> weak = t;
    t->timer.expires_after(delay);
    t->timer.async_wait([this, weak](const boost::system::error_code& ec) {
        auto target = weak.lock();
        if (ec || !target || target->retired)
            return;
        run_check(io_, target->check, target->target, [this, weak](CheckResult r) {
            if (auto t = weak.lock(); t && !t->retired)
                completed(t, r);
        });
    });
}

void HealthMonitor::completed(const std::shared_ptr<Target>& t, const CheckResult& r) {
    ++t->checks_total;
    const double d = r.duration.count();
    t->duration_sum += d;
    for (std::size_t i = 0; i < check_duration_buckets.size(); ++i)
        if (d <= check_duration_buckets[i])
            ++t->buckets[i];
    if (!r.ok)
        t->reason = r.reason;
    if (t->state.record(r.ok)) {
        if (t->state.up())
            fmt::print(stderr, "lb: health: {} is up ({} check: {} successes)\n", describe(t->key),
                       config::to_string(t->check.type), t->check.rise);
        else
            fmt::print(stderr, "lb: health: {} is down ({} check: {})\n", describe(t->key),
                       config::to_string(t->check.type), printable(r.reason));
        on_change_();
    }
    schedule(t, t->check.interval);
}

DownSet HealthMonitor::down() const {
    DownSet out;
    for (const auto& [key, t] : targets_)
        if (!t->state.up())
            out.insert(key);
    return out;
}

std::vector<HealthStatus> HealthMonitor::statuses() const {
    std::vector<HealthStatus> out;
    for (const auto& [key, t] : targets_) {
        HealthStatus s;
        s.server = key;
        s.check = config::to_string(t->check.type);
        s.up = t->state.up();
        s.checked = t->state.checked();
        s.reason = t->reason;
        s.failures_total = t->state.failures_total();
        s.checks_total = t->checks_total;
        s.duration_buckets = t->buckets;
        s.duration_sum = t->duration_sum;
        out.push_back(std::move(s));
    }
    return out;
}

} // namespace lb::control::health
