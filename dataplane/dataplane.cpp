#include "dataplane/dataplane.hpp"

#include <cerrno>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_config.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

namespace lb::dataplane {

namespace {

int launch_worker(void* worker) {
    return static_cast<Worker*>(worker)->run();
}

} // namespace

std::string packet_pool_failure(int error, std::string_view ops, bool ops_registered) {
    if (!ops_registered) {
        // Where the EAL looks for its drivers when no -d says otherwise (empty for a static DPDK).
        const std::string_view plugins = RTE_EAL_PMD_PATH;
        return fmt::format(
            "cannot create the packet buffer pool: DPDK's mempool driver '{}' is not loaded "
            "(the ring mempool driver, librte_mempool_ring.so: install librte-mempool-ring23 on "
            "Debian 12; the EAL loads its drivers from {}, and from each -d PATH in "
            "dpdk.eal_args)",
            ops, plugins.empty() ? "the -d PATHs in dpdk.eal_args only" : plugins);
    }
    if (error == ENOMEM)
        return fmt::format("cannot create the packet buffer pool: {} (reserve hugepages, e.g. "
                           "NR_2M_PAGES=512 in /etc/dpdk/dpdk.conf, or pass --no-huge -m 512)",
                           rte_strerror(error));
    return fmt::format("cannot create the packet buffer pool: {}", rte_strerror(error));
}

bool mempool_ops_registered(std::string_view ops) {
    for (unsigned i = 0; i < rte_mempool_ops_table.num_ops; ++i)
        if (ops == rte_mempool_ops_table.ops[i].name)
            return true;
    return false;
}

void Dataplane::PoolDeleter::operator()(rte_mempool* pool) const {
    rte_mempool_free(pool);
}

void Dataplane::RcuDeleter::operator()(rte_rcu_qsbr* rcu) const {
    rte_free(rcu);
}

void Dataplane::RingDeleter::operator()(rte_ring* ring) const {
    void* frame;
    while (rte_ring_dequeue(ring, &frame) == 0)
        rte_pktmbuf_free(static_cast<rte_mbuf*>(frame));
    rte_ring_free(ring);
}

void Dataplane::EventRingDeleter::operator()(rte_ring* ring) const {
    rte_ring_free(ring);
}

Dataplane::Dataplane(const DataplaneSizes& sizes) {
    const std::string& prefix = sizes.name_prefix;
    const int socket = static_cast<int>(rte_socket_id());
    pool_.reset(rte_pktmbuf_pool_create((prefix + "mbufs").c_str(), sizes.packet_buffers,
                                        sizes.packet_buffer_cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                        socket));
    if (!pool_) {
        const int error = rte_errno;
        const char* ops = rte_mbuf_best_mempool_ops();
        throw std::runtime_error(packet_pool_failure(error, ops, mempool_ops_registered(ops)));
    }
    const std::size_t rcu_size = rte_rcu_qsbr_get_memsize(sizes.workers);
    rcu_.reset(static_cast<rte_rcu_qsbr*>(
        rte_zmalloc((prefix + "rcu").c_str(), rcu_size, RTE_CACHE_LINE_SIZE)));
    if (!rcu_ || rte_rcu_qsbr_init(rcu_.get(), sizes.workers) != 0)
        throw std::runtime_error("cannot set up RCU for the workers");
    connections_ = std::make_unique<ConnectionTable>(sizes.connections, sizes.reply_keys,
                                                     rcu_.get(), socket, (prefix + "conn").c_str());
    templates_ = std::make_unique<PersistenceTable>(sizes.persistence_templates, rcu_.get(), socket,
                                                    (prefix + "persist").c_str());
    ftp_states_ = std::make_unique<FtpStateTable>(sizes.ftp_sessions, rcu_.get(), socket,
                                                  prefix + "ftp_states");
    control_tx_.reset(rte_ring_create((prefix + "control_tx").c_str(), 1024, socket,
                                      RING_F_SP_ENQ | RING_F_SC_DEQ));
    if (!control_tx_)
        throw std::runtime_error(
            fmt::format("cannot create the control ring: {}", rte_strerror(rte_errno)));
    if (sizes.control_frames) {
        // Any worker may receive an advertisement (RSS): several producers, one consumer.
        // docs/design.md has one single-producer ring per worker; adverts are a few per second
        // per peer, so the producers' compare-and-swap never contends and one ring keeps the
        // consumer simple. Replication's volume will get per-worker rings.
        control_rx_.reset(
            rte_ring_create((prefix + "control_rx").c_str(), 1024, socket, RING_F_SC_DEQ));
        if (!control_rx_)
            throw std::runtime_error(
                fmt::format("cannot create the VRRP ring: {}", rte_strerror(rte_errno)));
    }
    for (unsigned i = 0; sizes.session_events && i < sizes.workers; ++i) {
        // One producer (the worker) and one consumer (the control thread): no compare-and-swap
        // on either side.
        sync_events_.emplace_back(rte_ring_create_elem(
            (prefix + "sync_ev" + std::to_string(i)).c_str(), sizeof(std::uint32_t),
            sizes.sync_events_per_worker, socket, RING_F_SP_ENQ | RING_F_SC_DEQ));
        if (!sync_events_.back())
            throw std::runtime_error(fmt::format("cannot create the replication event ring: {}",
                                                 rte_strerror(rte_errno)));
    }
    context_.connections = connections_.get();
    context_.templates = templates_.get();
    context_.ftp_states = ftp_states_.get();
    context_.neighbours = &neighbours_;
    context_.load = &load_;
    context_.rcu = rcu_.get();
    context_.control_tx = control_tx_.get();
    context_.control_rx = control_rx_.get();
    context_.idle_backoff = sizes.idle_backoff;
    for (unsigned i = 0; i < sizes.workers; ++i) {
        counters_.push_back(std::make_unique<WorkerCounters>());
        workers_.push_back(
            std::make_unique<Worker>(context_, i, *counters_.back(), sync_events(i)));
    }
}

Dataplane::~Dataplane() {
    stop();
}

std::vector<const WorkerCounters*> Dataplane::counters() const {
    std::vector<const WorkerCounters*> views;
    for (const auto& c : counters_)
        views.push_back(c.get());
    return views;
}

void Dataplane::publish(const Snapshot& snapshot) noexcept {
    context_.snapshot.store(&snapshot, std::memory_order_release);
    // Every worker loads the pointer once per loop and reports a quiescent state after it: once
    // all have, none can still hold the previous snapshot. Workers that are not online (not
    // launched yet, stopped, or driven by hand in tests) are not waited for.
    rte_rcu_qsbr_synchronize(rcu_.get(), RTE_QSBR_THRID_INVALID);
}

void Dataplane::launch() {
    unsigned lcore;
    std::size_t i = 0;
    RTE_LCORE_FOREACH_WORKER(lcore) {
        if (i == workers_.size())
            break;
        if (rte_eal_remote_launch(launch_worker, workers_[i].get(), lcore) != 0)
            throw std::runtime_error(fmt::format("cannot launch worker {} on lcore {}", i, lcore));
        launched_ = true;
        ++i;
    }
}

void Dataplane::stop() noexcept {
    if (!launched_)
        return;
    context_.stop.store(true, std::memory_order_relaxed);
    rte_eal_mp_wait_lcore();
    launched_ = false;
}

} // namespace lb::dataplane
