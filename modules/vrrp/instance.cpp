#include "modules/vrrp/instance.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace lb::control::vrrp {

const char* to_string(State s) {
    switch (s) {
    case State::initialize:
        return "INIT";
    case State::backup:
        return "BACKUP";
    case State::master:
        return "MASTER";
    case State::fault:
        return "FAULT";
    }
    return "?";
}

Instance::Instance(InstanceConfig config)
    : config_(config), priority_(config.priority), master_adver_interval_(config.advert_interval) {}

Duration Instance::skew_time() const {
    // ((256 - Priority) * Master_Adver_Interval) / 256
    return Duration((256 - priority_) * master_adver_interval_.count() / 256);
}

Duration Instance::master_down_interval() const {
    return 3 * master_adver_interval_ + skew_time();
}

namespace {

std::string dotted(std::uint32_t a) {
    return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff);
}

} // namespace

Actions Instance::become_master(Clock::time_point now, std::string reason) {
    Actions a;
    state_ = State::master;
    wants_master_ = false;
    held_back_ = false;
    lower_master_heard_.reset();
    released_by_.reset();
    master_down_timer_.reset();
    adver_timer_ = now + config_.advert_interval;
    a.send_advert = priority_;
    a.send_gratuitous_arp = true;
    a.became = State::master;
    a.reason = std::move(reason);
    return a;
}

Actions Instance::become_backup(Clock::time_point now, std::string reason) {
    Actions a;
    state_ = State::backup;
    wants_master_ = false;
    held_back_ = false;
    lower_master_heard_.reset();
    released_by_.reset();
    adver_timer_.reset();
    master_down_timer_ = now + master_down_interval();
    a.became = State::backup;
    a.reason = std::move(reason);
    return a;
}

Actions Instance::take_over(Clock::time_point now, std::string reason) {
    if (!synchronised_)
        return become_master(now, std::move(reason));
    // The sync group decides; until then this instance waits, timer stopped, and any
    // advertisement that would restart the timer withdraws the wish (receive()).
    master_down_timer_.reset();
    wants_master_ = true;
    Actions a;
    a.wants_master = true;
    a.reason = std::move(reason);
    return a;
}

void Instance::accept_master(const Advert& ad, Clock::time_point now) {
    master_adver_interval_ = ad.interval;
    master_down_timer_ = now + master_down_interval();
    released_by_.reset();
    wants_master_ = false;
    lower_master_heard_.reset();
}

void Instance::hold_preemption(bool held) {
    if (held == preemption_held_)
        return;
    preemption_held_ = held;
    // Released: held_back_ stays, and the lower master's next advertisement preempts it.
    if (!held || state_ != State::backup || !lower_master_heard_)
        return;
    // It was preempting a master still heard: from now on it waits for that master's silence
    // as for any other's, counted from its last advertisement.
    master_down_timer_ = *lower_master_heard_ + master_down_interval();
    lower_master_heard_.reset();
    wants_master_ = false;
    held_back_ = true;
}

Actions Instance::start(Clock::time_point now) {
    started_ = now;
    master_adver_interval_ = config_.advert_interval;
    if (priority_ == 255 && !preemption_held_)
        return become_master(now, "address owner (priority 255)");
    return become_backup(now, priority_ == 255 ? "start-up (address owner, preemption held)"
                                               : "start-up");
}

Actions Instance::shutdown(Clock::time_point) {
    Actions a;
    if (state_ == State::master)
        a.send_advert = 0; // the backup takes over at once (after its skew time)
    adver_timer_.reset();
    master_down_timer_.reset();
    wants_master_ = false;
    held_back_ = false;
    lower_master_heard_.reset();
    if (state_ != State::initialize) {
        state_ = State::initialize;
        a.became = State::initialize;
        a.reason = "shutdown";
    }
    return a;
}

void Instance::set_listening(bool on, Clock::time_point now) {
    if (on == listening_)
        return;
    listening_ = on;
    // Silence counts from the moment it can be heard: a whole interval from now.
    if (on && state_ == State::backup && master_down_timer_)
        master_down_timer_ = std::max(*master_down_timer_, now + master_down_interval());
}

Actions Instance::tick(Clock::time_point now) {
    if (state_ == State::backup && listening_ && master_down_timer_ && now >= *master_down_timer_) {
        std::string why;
        if (released_by_)
            why =
                fmt::format("master {} released (priority 0 advertisement)", dotted(*released_by_));
        else if (lower_master_heard_)
            // Its advertisements were heard, and discarded (RFC 5798 6.4.2): not a master down.
            why = fmt::format("preempted master {}: it advertises priority {}, below ours ({})",
                              dotted(lower_master_.source), lower_master_.priority, priority_);
        else
            why = fmt::format("no advertisement for {} ms (master down)",
                              master_down_interval().count() / 1000);
        return take_over(now, std::move(why));
    }
    if (state_ == State::master && adver_timer_ && now >= *adver_timer_) {
        Actions a;
        a.send_advert = priority_;
        adver_timer_ = now + config_.advert_interval;
        return a;
    }
    return {};
}

Actions Instance::receive(const Advert& ad, Clock::time_point now) {
    if (state_ == State::backup) {
        if (ad.priority == 0) {
            master_down_timer_ = now + skew_time(); // the master resigned
            released_by_ = ad.source;
            wants_master_ = false;
            held_back_ = false;
            lower_master_heard_.reset();
            return {};
        }
        const bool in_preempt_delay = now < started_ + config_.preempt_delay;
        // The address owner always preempts (RFC 5798 section 6.1); it is in BACKUP only
        // while preemption is held, or after the hold until this advertisement.
        const bool would_preempt =
            ad.priority < priority_ && (priority_ == 255 || (config_.preempt && !in_preempt_delay));
        if (!would_preempt || preemption_held_) {
            accept_master(ad, now);
            held_back_ = would_preempt;
            return {};
        }
        // Held at this master's last advertisement and released since, or the owner: at once.
        if (held_back_ || priority_ == 255)
            return take_over(now, fmt::format("preemption no longer held: master {} advertises "
                                              "priority {}, below ours ({})",
                                              dotted(ad.source), ad.priority, priority_));
        lower_master_heard_ = now;
        lower_master_ = ad;
        return {}; // a lower priority master with preemption on: let the timer run out
    }
    if (state_ == State::master) {
        if (ad.priority == 0) {
            Actions a;
            a.send_advert = priority_;
            adver_timer_ = now + config_.advert_interval;
            return a;
        }
        const bool higher = ad.priority > priority_ ||
                            (ad.priority == priority_ && ad.source > config_.primary_address);
        if (higher) {
            master_adver_interval_ = ad.interval;
            return become_backup(now, fmt::format("advertisement with priority {} from {}",
                                                  ad.priority, dotted(ad.source)));
        }
        // Another master with a lower priority: a healed split brain (RFC 5798 discards the
        // advertisement). Answer at once so that it steps down now rather than at our next
        // advertisement, and re-announce the addresses that it may have taken over (keepalived
        // does the same).
        Actions a;
        a.send_advert = priority_;
        a.send_gratuitous_arp = true;
        adver_timer_ = now + config_.advert_interval;
        return a;
    }
    return {};
}

Actions Instance::set_fault(bool fault, Clock::time_point now, const std::string& reason) {
    if (fault && state_ != State::fault) {
        Actions a;
        if (state_ == State::master)
            a.send_advert = 0;
        state_ = State::fault;
        wants_master_ = false;
        held_back_ = false;
        lower_master_heard_.reset();
        adver_timer_.reset();
        master_down_timer_.reset();
        a.became = State::fault;
        a.reason = reason;
        return a;
    }
    if (!fault && state_ == State::fault)
        return priority_ == 255 && !preemption_held_
                   ? become_master(now, "fault cleared, address owner")
                   : become_backup(now, "fault cleared: " + reason);
    return {};
}

Actions Instance::set_priority(std::uint8_t priority, Clock::time_point now) {
    if (config_.priority == 255 || priority == priority_)
        return {};
    priority_ = std::clamp<std::uint8_t>(priority, 1, 254);
    Actions a;
    if (state_ == State::master) {
        a.send_advert = priority_; // let the peers compare at once
        adver_timer_ = now + config_.advert_interval;
    }
    return a;
}

Actions Instance::reconfigure(InstanceConfig config, std::uint8_t priority, Clock::time_point now) {
    const bool interval_changed = config.advert_interval != config_.advert_interval;
    const std::uint8_t before = priority_;
    config_ = config;
    priority_ = config_.priority == 255 ? 255 : std::clamp<std::uint8_t>(priority, 1, 254);
    if (state_ == State::backup && priority_ == 255 && !preemption_held_)
        return become_master(now, "address owner (priority 255)");
    Actions a;
    if (state_ == State::master && (priority_ != before || interval_changed)) {
        a.send_advert = priority_; // let the peers compare at once
        adver_timer_ = now + config_.advert_interval;
    }
    return a;
}

Actions Instance::follow(State target, Clock::time_point now, const std::string& reason) {
    if (target == state_ || state_ == State::initialize)
        return {};
    switch (target) {
    case State::master:
        return become_master(now, reason);
    case State::backup:
        return become_backup(now, reason);
    case State::fault:
        return set_fault(true, now, reason);
    case State::initialize:
        break;
    }
    return {};
}

std::optional<Clock::time_point> Instance::next_deadline() const {
    if (state_ == State::master)
        return adver_timer_;
    if (state_ == State::backup && listening_)
        return master_down_timer_;
    return std::nullopt;
}

} // namespace lb::control::vrrp
