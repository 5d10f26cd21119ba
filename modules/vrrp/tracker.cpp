#include "modules/vrrp/tracker.hpp"

#include <fmt/format.h>

#include "modules/health/checker.hpp"

namespace lb::control::vrrp {

namespace {

bool service_up(const config::Service& s, const health::DownSet& down) {
    unsigned up = 0;
    for (const auto& rs : s.real_servers)
        if (rs.weight > 0 &&
            !down.count(health::ServerKey{s.name, rs.address.ipv4(), rs.port.value_or(0)}))
            ++up;
    return up >= std::max(1u, s.quorum);
}

} // namespace

TrackingVerdict evaluate_tracking(const config::VrrpInstance& instance,
                                  const config::Config& running, const health::DownSet& down,
                                  const LinkUp& link_up,
                                  const std::function<bool(const std::string&)>& script_up) {
    using Kind = config::VrrpInstance::Track::Kind;
    TrackingVerdict v;
    std::vector<std::string> failing;
    for (const auto& t : instance.track) {
        bool up = true;
        std::string what;
        switch (t.kind) {
        case Kind::service: {
            what = fmt::format("service '{}' below quorum", t.name);
            // A service a reload removed counts as down: it has nothing to serve.
            up = false;
            for (const auto& s : running.services)
                if (s.name == t.name)
                    up = service_up(s, down);
            break;
        }
        case Kind::interface:
            what = fmt::format("interface '{}' link down", t.name);
            up = link_up(t.name);
            break;
        case Kind::script:
            what = fmt::format("script '{}' failing", t.name);
            up = script_up(t.name);
            break;
        }
        if (t.weight > 0 && up)
            v.delta += t.weight;
        if (up)
            continue;
        if (t.weight == 0)
            v.fault = true;
        else if (t.weight < 0)
            v.delta += t.weight;
        failing.push_back(t.weight == 0 ? what : fmt::format("{} (weight {})", what, t.weight));
    }
    for (std::size_t i = 0; i < failing.size(); ++i)
        v.reason += (i ? ", " : "") + failing[i];
    return v;
}

struct TrackingScripts::Script {
    Script(boost::asio::io_context& io, const config::VrrpScript& s)
        : timer(io), config(s), state(s.check.rise, s.check.fall) {}
    boost::asio::steady_timer timer;
    config::VrrpScript config;
    health::HealthState state;
    bool stopped = false;
};

TrackingScripts::TrackingScripts(boost::asio::io_context& io, const config::Config& config,
                                 std::function<void()> on_change)
    : io_(io), on_change_(std::move(on_change)) {
    for (const auto& s : config.vrrp.scripts)
        add(s);
}

TrackingScripts::~TrackingScripts() {
    for (auto& [name, s] : scripts_)
        stop(*s);
}

void TrackingScripts::add(const config::VrrpScript& s) {
    auto script = std::make_shared<Script>(io_, s);
    scripts_[s.name] = script;
    // The first run is at once: a node must not claim a priority it lacks for a whole interval.
    schedule(script, std::chrono::milliseconds(0));
}

void TrackingScripts::stop(Script& s) {
    s.stopped = true;
    s.timer.cancel();
}

void TrackingScripts::reconfigure(const config::Config& config) {
    std::map<std::string, std::shared_ptr<Script>> before = std::move(scripts_);
    scripts_.clear();
    for (const auto& s : config.vrrp.scripts) {
        const auto it = before.find(s.name);
        if (it != before.end() && it->second->config == s) {
            scripts_.insert(*it);
            before.erase(it);
        } else {
            add(s);
        }
    }
    for (auto& [name, s] : before)
        stop(*s);
}

bool TrackingScripts::up(const std::string& name) const {
    const auto it = scripts_.find(name);
    return it != scripts_.end() && it->second->state.up();
}

void TrackingScripts::schedule(const std::shared_ptr<Script>& s, std::chrono::milliseconds delay) {
    s->timer.expires_after(delay);
    s->timer.async_wait([this, s](const boost::system::error_code& ec) {
        if (ec || s->stopped)
            return;
        health::CheckTarget target;
        target.label = "vrrp script " + s->config.name;
        health::run_check(io_, s->config.check, target, [this, s](health::CheckResult r) {
            if (s->stopped)
                return;
            if (s->state.record(r.ok)) {
                fmt::print(stderr, "lb: vrrp script '{}' is {}{}\n", s->config.name,
                           s->state.up() ? "up" : "down",
                           r.ok ? "" : fmt::format(" ({})", r.reason));
                on_change_();
            }
            schedule(s, s->config.check.interval);
        });
    });
}

} // namespace lb::control::vrrp
