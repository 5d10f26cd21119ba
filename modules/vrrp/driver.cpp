#include "modules/vrrp/driver.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

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
      core_(balancer.config(), port_macs(), slots(), driver_io()), timer_(io) {
    scripts_ =
        std::make_unique<vrrp::TrackingScripts>(io_, balancer_.config(), [this] { track(); });
}

VrrpControl::~VrrpControl() = default;

vrrp::DriverIo VrrpControl::driver_io() {
    vrrp::DriverIo d;
    d.send = [this](std::uint8_t interface, std::vector<std::uint8_t> frame) {
        send(interface, std::move(frame));
    };
    d.resolve = [this](std::uint32_t address, std::uint8_t interface) -> std::optional<vrrp::Mac> {
        // Unicast peers are in the neighbour table (the snapshot builder interned them, so
        // intern finds their entry), and the resolver keeps their MACs fresh.
        auto& n = *balancer_.context().neighbours;
        rte_ether_addr mac;
        if (n.resolve(n.intern(rte_cpu_to_be_32(address), interface), mac))
            return to_mac(mac);
        return std::nullopt;
    };
    d.link_up = [this](std::size_t interface) { return link_up(interface); };
    d.set_ownership = [this](std::uint8_t slot, bool master) {
        balancer_.context().vrrp_master[slot].store(master, std::memory_order_release);
    };
    d.notify = [this](const control::config::VrrpInstance& instance, vrrp::State to,
                      std::uint8_t priority, const std::string& reason) {
        notifier_.transition(instance, to, priority, reason);
    };
    d.hooks_idle = [this] { return notifier_.idle(); };
    d.down = [this] { return down_(); };
    d.script_up = [this](const std::string& name) { return scripts_->up(name); };
    d.publish = [this](const vrrp::Router& router) { publish(router); };
    d.wake_at = [this](vrrp::Clock::time_point when) { wake_at(when); };
    d.log = [](const std::string& line) { fmt::print(stderr, "lb: {}\n", line); };
    return d;
}

std::vector<vrrp::Mac> VrrpControl::port_macs() const {
    std::vector<vrrp::Mac> macs;
    for (const auto& p : balancer_.ports())
        macs.push_back(to_mac(p.mac));
    return macs;
}

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

void VrrpControl::reconfigure() {
    if (core_.stopping())
        return;
    const control::config::Config& config = balancer_.config();
    try {
        notifier_.reconfigure(config);
    } catch (const std::exception& e) {
        fmt::print(stderr, "lb: warning: reload: {}; no notify FIFO until the next reload\n",
                   e.what());
    }
    scripts_->reconfigure(config);
    core_.reconfigure(slots(), vrrp::Clock::now());
}

bool VrrpControl::link_up(std::size_t interface) const {
    rte_eth_link link{};
    if (rte_eth_link_get_nowait(balancer_.ports().at(interface).port_id, &link) != 0)
        return true; // the device cannot tell: assume up
    return link.link_status == RTE_ETH_LINK_UP;
}

void VrrpControl::start() {
    // The ports were started before: the core looks at their links first.
    core_.start(vrrp::Clock::now());
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

void VrrpControl::receive_frames(vrrp::Clock::time_point now) {
    rte_ring* ring = balancer_.context().control_rx;
    rte_mbuf* frames[32];
    unsigned n;
    while ((n = rte_ring_dequeue_burst(ring, reinterpret_cast<void**>(frames), 32, nullptr)) > 0)
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf* m = frames[i];
            if (rte_pktmbuf_is_contiguous(m))
                core_.receive(static_cast<std::uint8_t>(m->port),
                              rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m),
                              now);
            rte_pktmbuf_free(m);
        }
}

void VrrpControl::wake_at(vrrp::Clock::time_point when) {
    // Re-arming cancels the wait armed before (its handler sees operation_aborted).
    timer_.expires_at(when);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec)
            return;
        const auto now = vrrp::Clock::now();
        // Once shutting down, no advertisement received changes what is left to do.
        if (!core_.stopping())
            receive_frames(now);
        core_.wake(now);
    });
}

void VrrpControl::track() {
    core_.track(vrrp::Clock::now());
}

void VrrpControl::report() {
    core_.publish();
}

void VrrpControl::publish(const vrrp::Router& router) {
    control::report::VrrpReport r;
    r.instances = router.status();
    r.discarded = router.discarded();
    r.notify_fifo_lost = notifier_.fifo_lines_lost();
    // No instance left (a reload removed them): no VRRP in lbctl, the stats or the metrics.
    balancer_.reports().publish("vrrp", [r = std::move(r)](control::report::StatsView& v) {
        if (!r.instances.empty())
            v.vrrp = r;
    });
}

void VrrpControl::hold_preemption(std::optional<std::string> reason) {
    core_.hold_preemption(std::move(reason));
}

void VrrpControl::shutdown(std::function<void()> done) {
    core_.shutdown(vrrp::Clock::now(), std::move(done));
}

} // namespace lb::app
