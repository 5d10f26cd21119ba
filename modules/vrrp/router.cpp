#include "modules/vrrp/router.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace lb::control::vrrp {

namespace {

// `interface_address`: ours on the instance's interface, the default source of advertisements.
InstanceConfig instance_config(const config::VrrpInstance& v, std::uint32_t interface_address) {
    InstanceConfig ic;
    ic.vrid = v.virtual_router_id;
    ic.priority = v.priority;
    ic.advert_interval = std::chrono::duration_cast<Duration>(v.advert_int);
    ic.preempt = v.preempt;
    ic.preempt_delay = std::chrono::duration_cast<Duration>(v.preempt_delay);
    // IPv4 only until VRRPv3 over IPv6 lands (validator.cpp refuses IPv6 instances).
    ic.primary_address = v.unicast_source ? v.unicast_source->ipv4() : interface_address;
    return ic;
}

Expectation expectation_of(const config::VrrpInstance& v) {
    Expectation e;
    e.version = static_cast<std::uint8_t>(v.version);
    e.vrid = v.virtual_router_id;
    e.password = v.password;
    e.interval_centiseconds = static_cast<std::uint16_t>(v.advert_int.count() / 10);
    e.address_count = v.virtual_addresses.size();
    return e;
}

// The same instance across a reload: what a peer and the notify hooks know it by.
bool same_instance(const config::VrrpInstance& a, const config::VrrpInstance& b) {
    return a.name == b.name && a.interface == b.interface &&
           a.virtual_router_id == b.virtual_router_id;
}

} // namespace

Router::Router(const config::Config& config, std::vector<Mac> port_macs, SendFrame send,
               ResolveMac resolve, OnTransition on_transition, std::vector<std::uint8_t> slots)
    : port_macs_(std::move(port_macs)), send_(std::move(send)), resolve_(std::move(resolve)),
      on_transition_(std::move(on_transition)) {
    for (const auto& iface : config.interfaces)
        interface_addresses_.push_back(iface.address);
    listening_.assign(interface_addresses_.size(), true);
    for (std::size_t i = 0; i < config.vrrp.instances.size(); ++i) {
        const auto& v = config.vrrp.instances[i];
        const auto slot = i < slots.size() ? slots[i] : static_cast<std::uint8_t>(i);
        instances_.push_back(make_running(config, v, slot));
        status_.push_back(make_status(v));
    }
    build_groups(config);
}

Mac Router::mac_of(const config::VrrpInstance& v, std::uint8_t interface) const {
    return v.use_vmac ? virtual_mac(v.virtual_router_id) : port_macs_.at(interface);
}

Router::Running Router::make_running(const config::Config& config, const config::VrrpInstance& v,
                                     std::uint8_t slot) const {
    const auto* iface = config.find_interface(v.interface);
    const auto index = static_cast<std::uint8_t>(iface - config.interfaces.data());
    const InstanceConfig ic = instance_config(v, iface->address);
    Instance machine(ic);
    machine.hold_preemption(hold_.has_value());
    machine.set_listening(index >= listening_.size() || listening_[index], Clock::time_point{});
    return Running{v,
                   slot,
                   std::move(machine),
                   expectation_of(v),
                   index,
                   ic.primary_address,
                   mac_of(v, index),
                   -1,
                   {},
                   false,
                   0,
                   {},
                   std::nullopt};
}

InstanceStatus Router::make_status(const config::VrrpInstance& v) {
    InstanceStatus s;
    s.name = v.name;
    s.interface = v.interface;
    s.vrid = v.virtual_router_id;
    s.version = v.version;
    s.configured_priority = v.priority;
    s.priority = v.priority;
    return s;
}

void Router::build_groups(const config::Config& config) {
    groups_.clear();
    group_names_.clear();
    for (auto& r : instances_) {
        r.group = -1;
        r.machine.set_synchronised(false);
    }
    for (const auto& g : config.vrrp.sync_groups) {
        std::vector<std::size_t> members;
        for (const auto& name : g.instances)
            if (const std::size_t i = find(name); i < instances_.size()) {
                members.push_back(i);
                instances_[i].group = static_cast<int>(groups_.size());
                instances_[i].machine.set_synchronised(true);
            }
        groups_.push_back(std::move(members));
        group_names_.push_back(g.name);
    }
}

void Router::reconfigure(const config::Config& next, std::vector<std::uint8_t> slots,
                         Clock::time_point now) {
    // Gone: stopped first, while their indices and groups still hold.
    for (std::size_t i = 0; i < instances_.size(); ++i) {
        const auto& kept = next.vrrp.instances;
        if (std::none_of(kept.begin(), kept.end(), [&](const config::VrrpInstance& v) {
                return same_instance(v, instances_[i].config);
            }))
            apply(i, instances_[i].machine.shutdown(now), now, false);
    }
    std::vector<Running> running;
    std::vector<InstanceStatus> status;
    std::vector<std::size_t> started, changed;
    for (std::size_t n = 0; n < next.vrrp.instances.size(); ++n) {
        const auto& v = next.vrrp.instances[n];
        const auto slot = n < slots.size() ? slots[n] : static_cast<std::uint8_t>(n);
        std::size_t i = 0;
        while (i < instances_.size() && !same_instance(instances_[i].config, v))
            ++i;
        if (i == instances_.size()) {
            running.push_back(make_running(next, v, slot));
            status.push_back(make_status(v));
            status.back().listening = running.back().machine.listening();
            started.push_back(n);
            continue;
        }
        running.push_back(std::move(instances_[i]));
        running.back().slot = slot;
        status.push_back(std::move(status_[i]));
        if (!(running.back().config == v))
            changed.push_back(n);
    }
    instances_ = std::move(running);
    status_ = std::move(status);
    build_groups(next);
    for (const std::size_t i : changed)
        update(i, next.vrrp.instances[i], now);
    for (const std::size_t i : started)
        apply(i, instances_[i].machine.start(now), now, true);
    for (std::size_t i = 0; i < instances_.size(); ++i) {
        Running& r = instances_[i];
        // Out of its sync group while waiting for the group's word: nothing else will give it.
        if (r.group < 0 && r.machine.wants_master())
            apply(i, r.machine.follow(State::master, now, r.wish + "; no longer in a sync group"),
                  now, true);
    }
    for (std::size_t g = 0; g < groups_.size(); ++g)
        try_group_master(g, now);
    refresh_held();
}

void Router::update(std::size_t i, const config::VrrpInstance& v, Clock::time_point now) {
    Running& r = instances_[i];
    const config::VrrpInstance before = std::move(r.config);
    r.config = v;
    const InstanceConfig ic = instance_config(v, interface_addresses_.at(r.interface));
    r.expectation = expectation_of(v);
    r.source = ic.primary_address;
    r.mac = mac_of(v, r.interface);
    InstanceStatus& s = status_[i];
    s.version = v.version;
    s.configured_priority = v.priority;
    const int effective = std::clamp(int{v.priority} + r.tracking_delta, 1, 254);
    apply(i, r.machine.reconfigure(ic, static_cast<std::uint8_t>(effective), now), now, true);
    if (r.machine.state() != State::master)
        return;
    s.master = r.source;
    // Addresses (or the MAC that answers for them) moved: announce them now.
    if (before.virtual_addresses != v.virtual_addresses || before.use_vmac != v.use_vmac)
        send_gratuitous_arps(i, v.garp.repeat);
    if (before.garp.refresh != v.garp.refresh)
        r.next_refresh = v.garp.refresh.count() > 0
                             ? std::optional<Clock::time_point>(now + v.garp.refresh)
                             : std::nullopt;
}

std::size_t Router::find(const std::string& name) const {
    for (std::size_t i = 0; i < instances_.size(); ++i)
        if (instances_[i].config.name == name)
            return i;
    return instances_.size();
}

void Router::start(Clock::time_point now) {
    for (std::size_t i = 0; i < instances_.size(); ++i)
        apply(i, instances_[i].machine.start(now), now, true);
    refresh_held();
}

void Router::shutdown(Clock::time_point now) {
    for (std::size_t i = 0; i < instances_.size(); ++i)
        apply(i, instances_[i].machine.shutdown(now), now, false);
    refresh_held();
}

void Router::hold_preemption(std::optional<std::string> reason) {
    if (reason == hold_)
        return;
    hold_ = std::move(reason);
    for (auto& r : instances_)
        r.machine.hold_preemption(hold_.has_value());
    refresh_held();
}

void Router::set_listening(std::uint8_t interface, bool on, Clock::time_point now) {
    if (interface >= listening_.size())
        return;
    listening_[interface] = on;
    for (std::size_t i = 0; i < instances_.size(); ++i)
        if (instances_[i].interface == interface) {
            instances_[i].machine.set_listening(on, now);
            status_[i].listening = on;
        }
}

void Router::tick(Clock::time_point now) {
    for (std::size_t i = 0; i < instances_.size(); ++i) {
        Running& r = instances_[i];
        apply(i, r.machine.tick(now), now, true);
        if (r.machine.state() != State::master)
            continue;
        while (!r.garp_batches.empty() && r.garp_batches.front() <= now) {
            r.garp_batches.erase(r.garp_batches.begin());
            send_gratuitous_arps(i, r.config.garp.repeat);
        }
        if (r.next_refresh && *r.next_refresh <= now) {
            send_gratuitous_arps(i, r.config.garp.refresh_repeat);
            r.next_refresh = now + r.config.garp.refresh;
        }
    }
    refresh_held();
}

std::optional<Clock::time_point> Router::next_deadline() const {
    std::optional<Clock::time_point> next;
    auto consider = [&](std::optional<Clock::time_point> t) {
        if (t && (!next || *t < *next))
            next = t;
    };
    for (const auto& r : instances_) {
        consider(r.machine.next_deadline());
        if (r.machine.state() == State::master) {
            if (!r.garp_batches.empty())
                consider(r.garp_batches.front());
            consider(r.next_refresh);
        }
    }
    return next;
}

void Router::receive(std::uint8_t interface, const std::uint8_t* frame, std::size_t length,
                     Clock::time_point now) {
    const auto packet = received_packet(frame, length);
    if (!packet || packet->length < 2) {
        count(Discard::truncated);
        return;
    }
    const std::uint32_t own =
        interface < interface_addresses_.size() ? interface_addresses_[interface] : 0;
    // Promiscuous ports also see unicast advertisements between other routers, and some
    // devices hand back what we sent: neither is for us.
    if (packet->destination != multicast_group && packet->destination != own)
        return;
    for (const auto& r : instances_)
        if (r.interface == interface && packet->source == r.source)
            return;
    const std::uint8_t vrid = packet->payload[1];
    std::size_t i = 0;
    while (i < instances_.size() && !(instances_[i].interface == interface &&
                                      instances_[i].config.virtual_router_id == vrid))
        ++i;
    if (i == instances_.size()) {
        count(Discard::wrong_vrid);
        return;
    }
    Running& r = instances_[i];
    if (!r.config.unicast_peers.empty() &&
        std::find(r.config.unicast_peers.begin(), r.config.unicast_peers.end(),
                  config::IpAddress::from_ipv4(packet->source)) == r.config.unicast_peers.end()) {
        count(Discard::not_a_peer);
        return;
    }
    auto decoded = decode(packet->payload, packet->length, packet->source, packet->destination,
                          packet->ttl, r.expectation);
    if (const auto* d = std::get_if<Discard>(&decoded)) {
        count(*d);
        return;
    }
    const Message& m = std::get<Message>(decoded);
    InstanceStatus& s = status_[i];
    ++s.adverts_received;
    Advert ad;
    ad.priority = m.priority;
    ad.interval = Duration(std::int64_t{m.interval_centiseconds} * 10'000);
    ad.source = packet->source;
    if (m.priority != 0 && r.machine.state() != State::master)
        s.master = packet->source;
    apply(i, r.machine.receive(ad, now), now, true);
    refresh_held();
}

void Router::set_tracking(std::size_t i, bool fault, int delta, const std::string& reason,
                          Clock::time_point now) {
    Running& r = instances_[i];
    InstanceStatus& s = status_[i];
    s.tracking = reason;
    r.tracking_delta = delta;
    if (fault != r.tracking_fault) {
        r.tracking_fault = fault;
        apply(i, r.machine.set_fault(fault, now, fault ? reason : "tracking recovered"), now, true);
    }
    if (r.config.priority != 255) {
        const int wanted = std::clamp(int{r.config.priority} + delta, 1, 254);
        apply(i, r.machine.set_priority(static_cast<std::uint8_t>(wanted), now), now, true);
        s.priority = r.machine.priority();
    }
    // A member leaving FAULT may be the last one its group waited for.
    if (r.group >= 0 && !fault)
        try_group_master(static_cast<std::size_t>(r.group), now);
    refresh_held();
}

void Router::apply(std::size_t i, Actions a, Clock::time_point now, bool propagate) {
    Running& r = instances_[i];
    InstanceStatus& s = status_[i];
    s.priority = r.machine.priority();
    if (a.became) {
        Transition t;
        t.instance = i;
        t.slot = r.slot;
        t.settings = &r.config;
        t.from = s.state;
        t.to = *a.became;
        t.priority = r.machine.priority();
        t.reason = a.reason;
        s.state = *a.became;
        s.reason = a.reason;
        s.last_transition = std::chrono::system_clock::now();
        s.last_transition_monotonic = now;
        ++s.transitions;
        r.garp_batches.clear();
        r.next_refresh.reset();
        if (s.state == State::master) {
            s.master = r.source;
            if (r.config.garp.delay.count() > 0)
                r.garp_batches.push_back(now + r.config.garp.delay);
            if (r.config.garp.refresh.count() > 0)
                r.next_refresh = now + r.config.garp.refresh;
        } else if (s.master == r.source) {
            s.master = 0;
        }
        // The owner takes or releases the addresses before anything announces them.
        on_transition_(t);
    }
    if (a.send_advert)
        send_advert(i, *a.send_advert);
    if (a.send_gratuitous_arp && r.machine.state() == State::master)
        send_gratuitous_arps(i, r.config.garp.repeat);
    if (a.wants_master && r.group >= 0) {
        r.wish = a.reason;
        try_group_master(static_cast<std::size_t>(r.group), now);
        return;
    }
    if (!propagate || !a.became || r.group < 0)
        return;
    const State target = *a.became;
    if (target == State::initialize)
        return;
    for (const std::size_t j : groups_[static_cast<std::size_t>(r.group)]) {
        if (j == i)
            continue;
        // A member in FAULT by its own tracking stays there.
        if (instances_[j].tracking_fault && target != State::fault)
            continue;
        apply(j,
              instances_[j].machine.follow(
                  target, now,
                  fmt::format("sync group '{}': '{}' became {}",
                              group_names_[static_cast<std::size_t>(r.group)], r.config.name,
                              to_string(target))),
              now, false);
    }
}

void Router::try_group_master(std::size_t group, Clock::time_point now) {
    const auto& members = groups_[group];
    const auto would = [&](std::size_t j) {
        const Instance& m = instances_[j].machine;
        return !instances_[j].tracking_fault && (m.state() == State::master || m.wants_master());
    };
    if (!std::all_of(members.begin(), members.end(), would) ||
        std::none_of(members.begin(), members.end(),
                     [&](std::size_t j) { return instances_[j].machine.wants_master(); }))
        return; // held: refresh_held() says by whom
    for (const std::size_t j : members) {
        Running& m = instances_[j];
        if (m.machine.state() == State::master)
            continue;
        apply(j,
              m.machine.follow(State::master, now,
                               fmt::format("{}; sync group '{}': every member would be MASTER",
                                           m.wish, group_names_[group])),
              now, false);
    }
}

void Router::refresh_held() {
    for (std::size_t i = 0; i < instances_.size(); ++i) {
        const Running& r = instances_[i];
        std::string& preemption_held = status_[i].preemption_held;
        if (!r.machine.preemption_held_back())
            preemption_held.clear();
        else if (preemption_held != *hold_) // held back implies held
            preemption_held = *hold_;
        std::string held;
        if (r.group >= 0 && r.machine.wants_master()) {
            const auto g = static_cast<std::size_t>(r.group);
            std::string others;
            for (const std::size_t j : groups_[g]) {
                const Running& m = instances_[j];
                if (j == i || m.machine.wants_master() || m.machine.state() == State::master)
                    continue;
                others += fmt::format("{}'{}' {}", others.empty() ? "" : ", ", m.config.name,
                                      m.machine.state() == State::fault ? "is in FAULT"
                                                                        : "hears a master");
            }
            held = fmt::format("sync group '{}' holds it in BACKUP ({}): {}", group_names_[g],
                               r.wish, others);
        }
        status_[i].sync_held = std::move(held);
    }
}

void Router::send_advert(std::size_t i, std::uint8_t priority) {
    Running& r = instances_[i];
    Message m;
    m.version = static_cast<std::uint8_t>(r.config.version);
    m.vrid = r.config.virtual_router_id;
    m.priority = priority;
    m.interval_centiseconds = static_cast<std::uint16_t>(r.config.advert_int.count() / 10);
    for (const auto& a : r.config.virtual_addresses)
        m.addresses.push_back(a.ipv4());
    m.password = r.config.password;
    if (r.config.unicast_peers.empty()) {
        send_(r.interface, advert_frame(m, r.mac, multicast_mac, r.source, multicast_group));
    } else {
        for (const auto& peer_address : r.config.unicast_peers) {
            const std::uint32_t peer = peer_address.ipv4();
            send_(r.interface,
                  advert_frame(m, r.mac, resolve_(peer, r.interface).value_or(broadcast_mac),
                               r.source, peer));
        }
    }
    ++status_[i].adverts_sent;
}

void Router::send_gratuitous_arps(std::size_t i, unsigned repeat) {
    Running& r = instances_[i];
    for (unsigned k = 0; k < repeat; ++k)
        for (const auto& a : r.config.virtual_addresses) {
            send_(r.interface, gratuitous_arp_frame(r.mac, a.ipv4()));
            ++status_[i].gratuitous_arps_sent;
        }
}

} // namespace lb::control::vrrp
