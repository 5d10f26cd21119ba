#include "modules/vrrp/driver.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "control/config/value_parsers.hpp"

namespace lb::app {

namespace vrrp = control::vrrp;

namespace {

vrrp::Mac to_mac(const rte_ether_addr& a) {
    vrrp::Mac m;
    std::copy(std::begin(a.addr_bytes), std::end(a.addr_bytes), m.begin());
    return m;
}

} // namespace

VrrpControl::VrrpControl(boost::asio::io_context& io, Balancer& balancer,
                         std::function<control::health::DownSet()> down)
    : io_(io), balancer_(balancer), down_(std::move(down)), notifier_(io, balancer.config()),
      timer_(io) {
    const control::config::Config& config = balancer_.config();
    std::vector<vrrp::Mac> macs;
    for (const auto& p : balancer_.ports())
        macs.push_back(to_mac(p.mac));
    router_ = std::make_unique<vrrp::Router>(
        config, macs,
        [this](std::uint8_t interface, std::vector<std::uint8_t> frame) {
            send(interface, std::move(frame));
        },
        [this](std::uint32_t address, std::uint8_t interface) -> std::optional<vrrp::Mac> {
            // Unicast peers are in the neighbour table (the snapshot builder interned them, so
            // intern finds their entry), and the resolver keeps their MACs fresh.
            auto& n = *balancer_.context().neighbours;
            rte_ether_addr mac;
            if (n.resolve(n.intern(rte_cpu_to_be_32(address), interface), mac))
                return to_mac(mac);
            return std::nullopt;
        },
        [this](const vrrp::Transition& t) {
            const auto& instance = *t.settings;
            // Ownership first: by the time a gratuitous ARP draws traffic, we forward it.
            balancer_.context().vrrp_master[t.slot].store(t.to == vrrp::State::master,
                                                          std::memory_order_release);
            fmt::print(stderr, "lb: vrrp {}: {} -> {} (priority {}): {}\n", instance.name,
                       vrrp::to_string(t.from), vrrp::to_string(t.to), t.priority, t.reason);
            notifier_.transition(instance, t.to, t.priority, t.reason);
        },
        slots());
    set_poll_period();
    scripts_ = std::make_unique<vrrp::TrackingScripts>(io_, config, [this] { track(); });
}

VrrpControl::~VrrpControl() = default;

std::vector<std::uint8_t> VrrpControl::slots() const {
    std::vector<std::uint8_t> out;
    for (const auto& v : balancer_.config().vrrp.instances)
        // Every configured instance has one: the published snapshot was built from this
        // configuration.
        out.push_back(balancer_.registry()
                          .find_vrrp_slot({v.name, v.interface, v.virtual_router_id})
                          .value());
    return out;
}

void VrrpControl::set_poll_period() {
    // Polled often enough to see a 10 ms advertisement interval's timers within a few percent:
    // a twentieth of the shortest interval, 1 ms to 10 ms.
    std::chrono::milliseconds shortest{1000};
    for (const auto& v : balancer_.config().vrrp.instances)
        shortest = std::min(shortest, v.advert_int);
    poll_period_ = std::clamp<std::chrono::microseconds>(
        shortest / 20, std::chrono::milliseconds(1), std::chrono::milliseconds(10));
}

void VrrpControl::reconfigure() {
    if (stopping_)
        return;
    const control::config::Config& config = balancer_.config();
    try {
        notifier_.reconfigure(config);
    } catch (const std::exception& e) {
        fmt::print(stderr, "lb: warning: reload: {}; no notify FIFO until the next reload\n",
                   e.what());
    }
    scripts_->reconfigure(config);
    router_->reconfigure(config, slots(), vrrp::Clock::now());
    set_poll_period();
    track();
    report();
    // New deadlines (a new instance, a shorter interval) must not wait for the timer armed
    // before: re-arming cancels that wait (its handler sees operation_aborted).
    arm();
}

bool VrrpControl::link_up(std::size_t interface) const {
    rte_eth_link link{};
    if (rte_eth_link_get_nowait(balancer_.ports().at(interface).port_id, &link) != 0)
        return true; // the device cannot tell: assume up
    return link.link_status == RTE_ETH_LINK_UP;
}

void VrrpControl::update_listening(vrrp::Clock::time_point now) {
    const auto& interfaces = balancer_.config().interfaces;
    listening_.resize(interfaces.size(), true);
    for (std::size_t i = 0; i < interfaces.size(); ++i) {
        const bool up = link_up(i);
        if (up != listening_[i])
            fmt::print(stderr, "lb: vrrp: interface {}: {}\n", interfaces[i].name,
                       up ? "link up: backups count the master's silence from now"
                          : "link down: backups there do not count the master's silence until "
                            "it is up");
        listening_[i] = up;
        router_->set_listening(static_cast<std::uint8_t>(i), up, now);
    }
}

void VrrpControl::start() {
    // The ports were started before: a link still negotiating is not the master's silence.
    update_listening(vrrp::Clock::now());
    router_->start(vrrp::Clock::now());
    track();
    report();
    arm();
}

void VrrpControl::send(std::uint8_t interface, std::vector<std::uint8_t> frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(balancer_.pool());
    if (!m)
        return;
    char* data = rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size()));
    if (!data) {
        rte_pktmbuf_free(m);
        return;
    }
    std::memcpy(data, frame.data(), frame.size());
    m->port = interface;
    if (rte_ring_enqueue(balancer_.context().control_tx, m) != 0)
        rte_pktmbuf_free(m);
}

void VrrpControl::poll() {
    const auto now = vrrp::Clock::now();
    rte_ring* ring = balancer_.context().control_rx;
    rte_mbuf* frames[32];
    unsigned n;
    while ((n = rte_ring_dequeue_burst(ring, reinterpret_cast<void**>(frames), 32, nullptr)) > 0)
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf* m = frames[i];
            if (rte_pktmbuf_is_contiguous(m))
                router_->receive(static_cast<std::uint8_t>(m->port),
                                 rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m),
                                 now);
            rte_pktmbuf_free(m);
        }
    router_->tick(now);
    log_sync_held();
}

void VrrpControl::log_sync_held() {
    const auto& status = router_->status();
    sync_held_.resize(status.size());
    for (std::size_t i = 0; i < status.size(); ++i) {
        if (status[i].sync_held == sync_held_[i])
            continue;
        if (status[i].sync_held.empty())
            fmt::print(stderr, "lb: vrrp {}: no longer held by its sync group\n", status[i].name);
        else
            fmt::print(stderr, "lb: vrrp {}: {} (partial partition?)\n", status[i].name,
                       status[i].sync_held);
        sync_held_[i] = status[i].sync_held;
    }
}

void VrrpControl::arm() {
    if (stopping_)
        return;
    auto next = vrrp::Clock::now() + poll_period_;
    if (const auto due = router_->next_deadline())
        next = std::min(next, *due);
    timer_.expires_at(next);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopping_)
            return;
        poll();
        arm();
    });
}

void VrrpControl::track() {
    const control::config::Config& config = balancer_.config();
    const control::health::DownSet down = down_();
    const auto link_named_up = [&](const std::string& name) {
        for (std::size_t i = 0; i < config.interfaces.size(); ++i)
            if (config.interfaces[i].name == name)
                return link_up(i);
        return false;
    };
    const auto script_up = [&](const std::string& name) { return scripts_->up(name); };
    const auto now = vrrp::Clock::now();
    update_listening(now);
    for (std::size_t i = 0; i < config.vrrp.instances.size(); ++i) {
        const auto v = vrrp::evaluate_tracking(config.vrrp.instances[i], config, down,
                                               link_named_up, script_up);
        router_->set_tracking(i, v.fault, v.delta, v.reason, now);
    }
    log_sync_held();
}

void VrrpControl::report() {
    control::report::VrrpReport r;
    r.instances = router_->status();
    r.discarded = router_->discarded();
    r.notify_fifo_lost = notifier_.fifo_lines_lost();
    // No instance left (a reload removed them): no VRRP in lbctl, the stats or the metrics.
    balancer_.reports().publish("vrrp", [r = std::move(r)](control::report::StatsView& v) {
        if (!r.instances.empty())
            v.vrrp = r;
    });
}

void VrrpControl::hold_preemption(std::optional<std::string> reason) {
    if (reason == router_->preemption_hold())
        return;
    if (reason)
        fmt::print(stderr, "lb: vrrp: not preempting: {}\n", *reason);
    else
        fmt::print(stderr, "lb: vrrp: preemption allowed again\n");
    router_->hold_preemption(std::move(reason));
    report();
}

void VrrpControl::shutdown(std::function<void()> done) {
    stopping_ = true;
    timer_.cancel();
    router_->shutdown(vrrp::Clock::now());
    report();
    // Worker 0 drains the control ring every poll; 50 ms is ample even when it naps. Then the
    // hooks of the last transitions (STOP among them) run to their end, in order, for at most
    // shutdown_hook_wait.
    timer_.expires_after(std::chrono::milliseconds(50));
    const auto give_up = vrrp::Clock::now() + shutdown_hook_wait;
    timer_.async_wait([this, give_up, done = std::move(done)](const boost::system::error_code&) {
        wait_for_hooks(give_up, done);
    });
}

void VrrpControl::wait_for_hooks(vrrp::Clock::time_point give_up, std::function<void()> done) {
    if (notifier_.idle() || vrrp::Clock::now() >= give_up) {
        if (!notifier_.idle())
            fmt::print(stderr, "lb: vrrp: notify hooks still running after {} s; not waiting\n",
                       shutdown_hook_wait.count());
        done();
        return;
    }
    timer_.expires_after(std::chrono::milliseconds(20));
    timer_.async_wait([this, give_up, done = std::move(done)](const boost::system::error_code&) {
        wait_for_hooks(give_up, done);
    });
}

} // namespace lb::app
