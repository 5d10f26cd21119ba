// Everything the workers share, assembled in one place: the packet buffer pool, the connection,
// persistence-template and FTP-state tables, the neighbour table, the real servers' load, the
// RCU the workers report to, the control rings, the DataplaneContext that points at all of them,
// and the workers with their counters. The program, the packet tests, the benchmark and the fuzz
// targets all build it here, so none of them runs with a table the others wire differently (the
// benchmark's own copy once lacked the FTP state table).
//
// Construction runs on the control side and throws, with a message an operator can act on, when
// DPDK cannot provide a resource; nothing after construction throws.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dataplane/counters.hpp"
#include "dataplane/dataplane_context.hpp"
#include "dataplane/worker.hpp"

struct rte_mempool;
struct rte_rcu_qsbr;
struct rte_ring;

namespace lb::dataplane {

struct DataplaneSizes {
    unsigned workers = 1;
    std::uint32_t packet_buffers = 8191;
    std::uint32_t packet_buffer_cache = 256; // per lcore: 0 when one thread allocates (tests)
    std::uint32_t connections = 1024;
    // Connections are also found by their NAT reply tuple: twice the keys. lb sizes for it
    // when any service is NAT at start-up.
    bool reply_keys = true;
    std::uint32_t persistence_templates = 1024;
    std::uint32_t ftp_sessions = 64;
    // A ring carrying VRRP advertisements from the workers to the control thread; without it,
    // workers drop them (DropReason::vrrp_not_configured).
    bool control_frames = false;
    // Session replication: one event ring per worker (dataplane/sync_events.hpp), drained by
    // the control thread; without it, workers emit nothing.
    bool session_events = false;
    std::uint32_t sync_events_per_worker = 65536; // a power of two
    bool idle_backoff = true;
    // DPDK objects are named process-wide: tests that build several dataplanes in one process
    // give each a different prefix. Keep it short (DPDK names have at most 26 characters).
    std::string name_prefix;
};

// Why the packet buffer pool could not be made, for the operator: `error` is rte_errno after
// rte_pktmbuf_pool_create, `ops` the mempool driver it asked for (rte_mbuf_best_mempool_ops) and
// `ops_registered` whether a loaded driver provides it. Hugepages are blamed only for ENOMEM: a
// driver that is not loaded (DPDK loads them as plugins; a Debian box installed without
// Recommends may lack librte-mempool-ring23) fails the same call with EINVAL.
std::string packet_pool_failure(int error, std::string_view ops, bool ops_registered);

// True when a loaded mempool driver provides `ops` (e.g. "ring_mp_mc").
bool mempool_ops_registered(std::string_view ops);

class Dataplane {
  public:
    explicit Dataplane(const DataplaneSizes& sizes);
    ~Dataplane();
    Dataplane(const Dataplane&) = delete;
    Dataplane& operator=(const Dataplane&) = delete;

    DataplaneContext& context() { return context_; }
    const DataplaneContext& context() const { return context_; }
    rte_mempool* pool() { return pool_.get(); }
    ConnectionTable& connections() { return *connections_; }
    PersistenceTable& templates() { return *templates_; }
    FtpStateTable& ftp_states() { return *ftp_states_; }
    NeighbourTable& neighbours() { return neighbours_; }
    const NeighbourTable& neighbours() const { return neighbours_; }
    RealServerLoad& load() { return load_; }
    const RealServerLoad& load() const { return load_; }

    std::size_t worker_count() const { return workers_.size(); }
    // Worker i's replication events (32-bit words), or nullptr without replication.
    rte_ring* sync_events(std::size_t i) const {
        return i < sync_events_.size() ? sync_events_[i].get() : nullptr;
    }
    Worker& worker(std::size_t i) { return *workers_[i]; }
    const WorkerCounters& counters(std::size_t i) const { return *counters_[i]; }
    std::vector<const WorkerCounters*> counters() const;

    // Makes `snapshot` the one workers read, and returns once none can still be reading the
    // previous one (an RCU grace period): the caller may free it then. `snapshot` must live
    // until the next publish or until the workers have stopped.
    void publish(const Snapshot& snapshot) noexcept;

    // Runs worker i on the i-th EAL worker lcore. Throws if a launch fails (the ones launched
    // run until stop()).
    void launch();
    // Stops the workers and waits for them; harmless when they do not run.
    void stop() noexcept;

  private:
    // Each resource is released by its own owner, so that a constructor that throws half-way
    // gives back what it already had; members are destroyed in reverse order: rings (their
    // frames returned to the pool) and tables before the RCU, everything before the pool.
    struct PoolDeleter {
        void operator()(rte_mempool* pool) const;
    };
    struct RcuDeleter {
        void operator()(rte_rcu_qsbr* rcu) const;
    };
    struct RingDeleter {
        void operator()(rte_ring* ring) const; // frees the frames still queued, then the ring
    };
    struct EventRingDeleter {
        void operator()(rte_ring* ring) const; // words, not frames: just the ring
    };

    std::unique_ptr<rte_mempool, PoolDeleter> pool_;
    std::unique_ptr<rte_rcu_qsbr, RcuDeleter> rcu_;
    std::unique_ptr<ConnectionTable> connections_;
    std::unique_ptr<PersistenceTable> templates_;
    std::unique_ptr<FtpStateTable> ftp_states_;
    NeighbourTable neighbours_;
    RealServerLoad load_;
    std::unique_ptr<rte_ring, RingDeleter> control_tx_;
    std::unique_ptr<rte_ring, RingDeleter> control_rx_;
    std::vector<std::unique_ptr<rte_ring, EventRingDeleter>> sync_events_;
    DataplaneContext context_;
    std::vector<std::unique_ptr<WorkerCounters>> counters_;
    std::vector<std::unique_ptr<Worker>> workers_;
    bool launched_ = false;
};

} // namespace lb::dataplane
