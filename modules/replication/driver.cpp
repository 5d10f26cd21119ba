#include "modules/replication/driver.hpp"

#include <chrono>

#include <boost/asio/buffer.hpp>
#include <fmt/format.h>
#include <rte_ring.h>

#include "control/config/key_file.hpp"
#include "dataplane/sync_events.hpp"
#include "modules/replication/config_digest.hpp"
#include "modules/replication/epoch_store.hpp"

namespace lb::app {

namespace sync = control::sync;
using boost::asio::ip::udp;

namespace {

const control::config::Replication& settings_of(const Balancer& b) {
    return *b.config().replication;
}

udp::endpoint endpoint_of(std::uint32_t address, std::uint16_t port) {
    return {boost::asio::ip::address_v4(address), port};
}

std::uint32_t local_address(const Balancer& b) {
    const auto& r = settings_of(b);
    for (const auto& i : b.config().interfaces)
        if (i.name == r.interface)
            return i.address;
    throw std::runtime_error(fmt::format("replication: no interface named '{}'", r.interface));
}

// This run's epoch: larger than the last one's, by the epoch file, whatever the wall clock says
// (modules/replication/epoch_store.hpp).
std::uint64_t boot_epoch(const control::config::Replication& r) {
    const auto wall_us =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    const auto choice = control::replication::next_epoch(r.epoch_file, wall_us);
    if (choice.warning)
        fmt::print(stderr, "lb: replication: warning: epoch file: {}\n", *choice.warning);
    return choice.epoch;
}

sync::KeyRing key_ring(std::vector<std::uint8_t> current, std::vector<std::uint8_t> previous) {
    sync::KeyRing keys{sync::MessageKey(std::move(current)), std::nullopt};
    if (!previous.empty())
        keys.previous.emplace(std::move(previous));
    return keys;
}

} // namespace

ReplicationControl::ReplicationControl(boost::asio::io_context& io, Balancer& balancer,
                                       std::function<void(std::optional<std::string>)> hold)
    : balancer_(balancer), socket_(io), timer_(io), bridge_(balancer.context()) {
    const auto& r = settings_of(balancer);
    local_ = endpoint_of(local_address(balancer), r.port);
    // IPv4 sync links only until IPv6 replication lands (validator.cpp refuses the rest).
    std::vector<std::uint32_t> peer_addresses;
    for (const auto& peer : r.peers) {
        peer_addresses.push_back(peer.ipv4());
        peers_.push_back(endpoint_of(peer.ipv4(), r.port));
    }
    // In this order: a key that cannot be read fails before the epoch file is written.
    control::replication::NodeReplication::Setup setup{
        .link = {.cluster_id = r.cluster_id},
        .keys =
            [&r] {
                auto keys = control::config::read_replication_keys(r);
                return key_ring(std::move(keys.current), std::move(keys.previous));
            }(),
        .epoch = boot_epoch(r),
        .digest = sync::config_digest(balancer.config()),
        .local = local_address(balancer),
        .peers = peer_addresses,
        .sync_after_ms = static_cast<std::uint32_t>(r.sync_after.count()),
    };
    boost::system::error_code ec;
    socket_.open(udp::v4(), ec);
    if (!ec)
        socket_.set_option(udp::socket::reuse_address(true), ec);
    // Room for a window's worth of datagrams (512 of 1472 bytes) in each direction: a burst
    // (a bulk dump, a flood of new connections) must not overflow the kernel's default buffer
    // of ~140 datagrams and turn into resends. The kernel caps this at net.core.rmem_max
    // unless we are privileged (we are: DPDK needs root).
    if (!ec)
        socket_.set_option(boost::asio::socket_base::receive_buffer_size(4 << 20), ec);
    if (!ec)
        socket_.set_option(boost::asio::socket_base::send_buffer_size(4 << 20), ec);
    if (!ec)
        socket_.bind(local_, ec);
    if (ec)
        throw std::runtime_error(fmt::format(
            "replication: cannot listen on {}:{}: {} (does interface '{}' have its kernel "
            "exception path?)",
            local_.address().to_string(), r.port, ec.message(), r.interface));
    socket_.non_blocking(true, ec);
    core_ = std::make_unique<control::replication::NodeReplication>(
        std::move(setup), core_io(std::move(hold)), now_ms());
}

control::replication::ReplicationIo
ReplicationControl::core_io(std::function<void(std::optional<std::string>)> hold) {
    // The bridge's times are the dataplane clock's, read when the protocol calls.
    const auto now = [this] { return balancer_.context().clock.now_ms(); };
    control::replication::ReplicationIo io;
    io.current = [this, now](const sync::Entry& e) { return bridge_.current(e, now()); };
    io.dump = [this, now](std::uint64_t& cursor, std::vector<sync::Entry>& out) {
        return bridge_.dump(cursor, out, now());
    };
    io.apply = [this, now](const sync::Entry& e) { bridge_.apply(e, now()); };
    io.counters = [this] { return bridge_.counters(); };
    io.describe = [this](std::uint32_t event, std::uint32_t at, std::vector<sync::Entry>& out) {
        bridge_.describe_event(event, at, out);
    };
    io.defer = [this](std::uint32_t index) { bridge_.defer(index); };
    io.settle = [this](std::uint32_t index, std::uint32_t at, std::vector<sync::Entry>& out) {
        bridge_.settle(index, at, out);
    };
    io.sweep = [this](std::uint32_t at, std::vector<sync::Entry>& out) {
        // The whole table about every two seconds.
        const std::uint32_t budget = balancer_.context().connections->capacity() /
                                         static_cast<std::uint32_t>(2000 / period.count()) +
                                     1;
        bridge_.sweep(budget, at, out);
    };
    io.entries_held = [this] { return std::uint64_t{balancer_.context().connections->size()}; };
    io.send = [this](std::size_t peer, std::span<const std::uint8_t> datagram) {
        boost::system::error_code ec;
        socket_.send_to(boost::asio::buffer(datagram.data(), datagram.size()), peers_[peer], 0, ec);
        return !ec;
    };
    io.log = [](const std::string& line) { fmt::print(stderr, "lb: replication: {}\n", line); };
    io.hold_preemption = std::move(hold);
    io.reset_unknown_flows = [this](bool reset) {
        balancer_.context().reset_unknown_flows.store(reset, std::memory_order_relaxed);
    };
    return io;
}

ReplicationControl::~ReplicationControl() = default;

std::uint64_t ReplicationControl::now_ms() const {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now().time_since_epoch())
                                          .count());
}

void ReplicationControl::start() {
    std::string peers;
    for (const auto& p : peers_)
        peers +=
            fmt::format("{}{}:{}", peers.empty() ? "" : ", ", p.address().to_string(), p.port());
    fmt::print(stderr, "lb: replication: {}:{} <-> {}, cluster {}, epoch {}\n",
               local_.address().to_string(), local_.port(), peers,
               settings_of(balancer_).cluster_id, core_->peers().status(0, now_ms()).epoch);
    receive();
    tick();
    report();
}

void ReplicationControl::receive() {
    socket_.async_receive_from(
        boost::asio::buffer(buffer_), sender_,
        [this](const boost::system::error_code& ec, std::size_t n) {
            if (ec == boost::asio::error::operation_aborted)
                return;
            if (!ec && sender_.address().is_v4())
                core_->receive(sender_.address().to_v4().to_uint(), {buffer_.data(), n}, now_ms());
            receive();
        });
}

void ReplicationControl::drain_events(std::uint32_t now) {
    dataplane::Dataplane& dp = balancer_.dataplane();
    std::uint32_t words[512];
    for (std::size_t w = 0; w < dp.worker_count(); ++w) {
        rte_ring* ring = dp.sync_events(w);
        if (!ring)
            continue;
        // Bounded per tick, so a flood of new connections cannot stall the control loop; what
        // stays in the ring waits for the next tick.
        for (int round = 0; round < 32; ++round) {
            const unsigned n =
                rte_ring_sc_dequeue_burst_elem(ring, words, sizeof(words[0]), 512, nullptr);
            for (unsigned i = 0; i < n; ++i) {
                const bool connection =
                    dataplane::SyncEvent::kind(words[i]) == dataplane::SyncEventKind::connection;
                core_->event(words[i],
                             connection ? std::optional{dataplane::SyncEvent::index(words[i])}
                                        : std::nullopt,
                             now);
            }
            if (n < 512)
                break;
        }
    }
}

void ReplicationControl::expired(std::uint32_t index, const dataplane::Connection& c) {
    if (auto d = bridge_.expired(index, c, balancer_.context().clock.now_ms()))
        core_->queue(*d);
}

void ReplicationControl::set_keys(std::vector<std::uint8_t> current,
                                  std::vector<std::uint8_t> previous) {
    core_->set_keys(key_ring(std::move(current), std::move(previous)));
}

void ReplicationControl::tick() {
    const std::uint64_t now = now_ms();
    const std::uint32_t dataplane_now = balancer_.context().clock.now_ms();
    if (balancer_.snapshot().generation != bound_generation_) {
        bridge_.bind(balancer_.snapshot());
        bound_generation_ = balancer_.snapshot().generation;
        core_->set_digest(sync::config_digest(balancer_.config()));
    }
    drain_events(dataplane_now);
    core_->tick(now, dataplane_now, control::report::Moment::now());
    timer_.expires_after(period);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec)
            tick();
    });
}

void ReplicationControl::report() {
    const std::uint64_t now = now_ms();
    const sync::PeerSet& set = core_->peers();
    control::report::ReplicationReport r;
    r.local = fmt::format("{}:{}", local_.address().to_string(), local_.port());
    for (std::size_t i = 0; i < set.size(); ++i) {
        control::report::ReplicationPeerReport p;
        p.peer = fmt::format("{}:{}", peers_[i].address().to_string(), peers_[i].port());
        p.link = set.status(i, now);
        if (p.link.last_heard_ms)
            p.last_heard_ago_ms = now - *p.link.last_heard_ms;
        p.peer_entries = p.link.peer_entries_held;
        const auto& c = core_->applied(i);
        p.applied = c.applied;
        p.unbound = c.unbound;
        p.refused = c.refused;
        p.deleted = c.deleted;
        p.superseded = c.superseded;
        p.deletions_refused = c.deletions_refused;
        p.send_errors = core_->send_errors(i);
        r.peers.push_back(std::move(p));
    }
    r.in_sync = core_->state().in_sync;
    r.in_sync_since = core_->in_sync_since();
    r.unknown_senders = set.unknown_senders();
    r.reset_unknown_flows = balancer_.context().reset_unknown_flows.load();
    // events_lost, the workers' counter, is added up by the stats view (add_module_parts).
    balancer_.reports().publish(
        "replication", [r = std::move(r)](control::report::StatsView& v) { v.replication = r; });
}

} // namespace lb::app
