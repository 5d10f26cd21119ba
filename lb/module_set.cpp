#include "lb/module_set.hpp"

#include <algorithm>
#include <exception>
#include <string_view>

#include <fmt/format.h>

namespace lb::app {

ModuleSet::ModuleSet(const std::vector<ModuleKind>& kinds, Make make, Log log)
    : kinds_(kinds), make_(std::move(make)), log_(std::move(log)) {}

std::unique_ptr<Module> ModuleSet::make(const ModuleKind& kind) {
    auto m = make_(kind);
    m->hold_preemption(preemption_hold_); // replication may already hold it
    return m;
}

void ModuleSet::build(const control::config::Config& config) {
    for (const ModuleKind& kind : kinds_)
        if (kind.configured(config))
            modules_.push_back(make(kind));
}

void ModuleSet::start() {
    for (auto& m : modules_)
        m->start();
}

bool ModuleSet::is_running(const ModuleKind& kind) const {
    return std::any_of(modules_.begin(), modules_.end(),
                       [&](const auto& m) { return std::string_view(m->name()) == kind.name; });
}

void ModuleSet::on_reload_applied(const control::config::Config& config,
                                  const control::config::ReloadReads& reads) {
    for (auto& m : modules_)
        m->on_reload_applied(reads);
    for (const ModuleKind& kind : kinds_) {
        if (!kind.starts_on_reload || is_running(kind) || !kind.configured(config))
            continue;
        try {
            auto m = make(kind);
            m->start();
            modules_.push_back(std::move(m));
        } catch (const std::exception& e) { // nothing else was started
            log_(fmt::format("warning: reload: {} not started: {}", kind.name, e.what()));
        }
    }
}

void ModuleSet::on_health_change() {
    for (auto& m : modules_)
        m->on_health_change();
}

void ModuleSet::tick() {
    for (auto& m : modules_)
        m->tick();
}

void ModuleSet::report() {
    for (auto& m : modules_)
        m->report();
}

void ModuleSet::hold_preemption(std::optional<std::string> reason) {
    preemption_hold_ = std::move(reason);
    for (auto& m : modules_)
        m->hold_preemption(preemption_hold_);
}

std::optional<control::AdminAnswer> ModuleSet::answer(const AdminRequest& request) {
    for (auto& m : modules_)
        if (auto a = m->answer(request))
            return a;
    return std::nullopt;
}

void ModuleSet::shutdown(std::function<void()> done) {
    stop_from(modules_.size(), std::move(done));
}

void ModuleSet::stop_from(std::size_t remaining, std::function<void()> done) {
    if (remaining == 0) {
        done();
        return;
    }
    modules_[remaining - 1]->shutdown([this, remaining, done = std::move(done)]() mutable {
        stop_from(remaining - 1, std::move(done));
    });
}

std::vector<std::string> ModuleSet::running() const {
    std::vector<std::string> names;
    for (const auto& m : modules_)
        names.emplace_back(m->name());
    return names;
}

} // namespace lb::app
