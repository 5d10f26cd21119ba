#include "modules/vrrp/driver_core.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "modules/vrrp/tracker.hpp"

namespace lb::control::vrrp {

DriverCore::DriverCore(const config::Config& config, std::vector<Mac> port_macs,
                       std::vector<std::uint8_t> slots, DriverIo io)
    : config_(config), io_(std::move(io)) {
    router_ = std::make_unique<Router>(
        config_, std::move(port_macs), io_.send, io_.resolve,
        [this](const Transition& t) { on_transition(t); }, std::move(slots));
    set_poll_period();
}

DriverCore::~DriverCore() = default;

void DriverCore::on_transition(const Transition& t) {
    const auto& instance = *t.settings;
    // Ownership first: by the time a gratuitous ARP draws traffic, we forward it.
    io_.set_ownership(t.slot, t.to == State::master);
    io_.log(fmt::format("vrrp {}: {} -> {} (priority {}): {}", instance.name, to_string(t.from),
                        to_string(t.to), t.priority, t.reason));
    io_.notify(instance, t.to, t.priority, t.reason);
}

void DriverCore::set_poll_period() {
    // Polled often enough to see a 10 ms advertisement interval's timers within a few percent:
    // a twentieth of the shortest interval, 1 ms to 10 ms.
    std::chrono::milliseconds shortest{1000};
    for (const auto& v : config_.vrrp.instances)
        shortest = std::min(shortest, v.advert_int);
    poll_period_ = std::clamp<std::chrono::microseconds>(
        shortest / 20, std::chrono::milliseconds(1), std::chrono::milliseconds(10));
}

Clock::time_point DriverCore::next_wake(Clock::time_point now) const {
    auto next = now + poll_period_;
    if (const auto due = router_->next_deadline())
        next = std::min(next, *due);
    return next;
}

void DriverCore::arm(Clock::time_point now) {
    if (!stopping_)
        io_.wake_at(next_wake(now));
}

void DriverCore::update_listening(Clock::time_point now) {
    const auto& interfaces = config_.interfaces;
    listening_.resize(interfaces.size(), true);
    for (std::size_t i = 0; i < interfaces.size(); ++i) {
        const bool up = io_.link_up(i);
        if (up != listening_[i])
            io_.log(fmt::format("vrrp: interface {}: {}", interfaces[i].name,
                                up ? "link up: backups count the master's silence from now"
                                   : "link down: backups there do not count the master's "
                                     "silence until it is up"));
        listening_[i] = up;
        router_->set_listening(static_cast<std::uint8_t>(i), up, now);
    }
}

void DriverCore::start(Clock::time_point now) {
    update_listening(now);
    router_->start(now);
    track(now);
    publish();
    arm(now);
}

void DriverCore::receive(std::uint8_t interface, const std::uint8_t* frame, std::size_t length,
                         Clock::time_point now) {
    router_->receive(interface, frame, length, now);
}

void DriverCore::wake(Clock::time_point now) {
    if (stopping_) {
        shutdown_step(now);
        return;
    }
    router_->tick(now);
    log_sync_held();
    arm(now);
}

void DriverCore::log_sync_held() {
    const auto& status = router_->status();
    sync_held_.resize(status.size());
    for (std::size_t i = 0; i < status.size(); ++i) {
        if (status[i].sync_held == sync_held_[i])
            continue;
        if (status[i].sync_held.empty())
            io_.log(fmt::format("vrrp {}: no longer held by its sync group", status[i].name));
        else
            io_.log(fmt::format("vrrp {}: {} (partial partition?)", status[i].name,
                                status[i].sync_held));
        sync_held_[i] = status[i].sync_held;
    }
}

void DriverCore::track(Clock::time_point now) {
    const health::DownSet down = io_.down();
    const auto link_named_up = [&](const std::string& name) {
        for (std::size_t i = 0; i < config_.interfaces.size(); ++i)
            if (config_.interfaces[i].name == name)
                return io_.link_up(i);
        return false;
    };
    update_listening(now);
    for (std::size_t i = 0; i < config_.vrrp.instances.size(); ++i) {
        const auto v = evaluate_tracking(config_.vrrp.instances[i], config_, down, link_named_up,
                                         io_.script_up);
        router_->set_tracking(i, v.fault, v.delta, v.reason, now);
    }
    log_sync_held();
}

void DriverCore::reconfigure(std::vector<std::uint8_t> slots, Clock::time_point now) {
    if (stopping_)
        return;
    router_->reconfigure(config_, std::move(slots), now);
    set_poll_period();
    track(now);
    publish();
    // New deadlines (a new instance, a shorter interval) must not wait for the wake-up asked
    // before.
    arm(now);
}

void DriverCore::publish() const {
    io_.publish(*router_);
}

void DriverCore::hold_preemption(std::optional<std::string> reason) {
    if (reason == router_->preemption_hold())
        return;
    if (reason)
        io_.log("vrrp: not preempting: " + *reason);
    else
        io_.log("vrrp: preemption allowed again");
    router_->hold_preemption(std::move(reason));
    publish();
}

void DriverCore::shutdown(Clock::time_point now, std::function<void()> done) {
    stopping_ = true;
    router_->shutdown(now);
    publish();
    // Then the hooks of the last transitions (STOP among them) run to their end, in order.
    done_ = std::move(done);
    give_up_ = now + shutdown_hook_wait;
    check_at_ = now + send_wait;
    io_.wake_at(check_at_);
}

void DriverCore::shutdown_step(Clock::time_point now) {
    // A wake-up asked before shutdown, or one after `done`: not a step.
    if (!done_ || now < check_at_)
        return;
    const bool idle = io_.hooks_idle();
    if (!idle && now < give_up_) {
        check_at_ = now + hook_check_period;
        io_.wake_at(check_at_);
        return;
    }
    if (!idle)
        io_.log(fmt::format("vrrp: notify hooks still running after {} s; not waiting",
                            shutdown_hook_wait.count()));
    std::exchange(done_, nullptr)();
}

} // namespace lb::control::vrrp
