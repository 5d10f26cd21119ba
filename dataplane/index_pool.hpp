// Entry indices of a table: a lock-free ring of free ones, and retirement that returns an index
// to the ring only after every worker has passed a quiescent state (rte_rcu_qsbr), so that an
// index a worker obtained from a lookup is never reused while that worker may still read it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <rte_spinlock.h>

struct rte_ring;
struct rte_rcu_qsbr;

namespace lb::dataplane {

class IndexPool {
  public:
    // Indices 0..capacity-1, all free. `rcu` may be null (no concurrent readers: tests).
    IndexPool(const std::string& name, std::uint32_t capacity, rte_rcu_qsbr* rcu, int socket);
    ~IndexPool();
    IndexPool(const IndexPool&) = delete;
    IndexPool& operator=(const IndexPool&) = delete;

    std::uint32_t capacity() const { return capacity_; }

    // Any thread.
    std::optional<std::uint32_t> allocate();
    void release_unpublished(std::uint32_t index); // never visible to readers: free at once

    // Any thread (mostly the control thread's collector; a worker when it must take back an
    // entry it had briefly published). `positions` are handed back to `free_positions` at
    // reclaim time (rte_hash slots to free with the index), may be empty.
    void retire(std::uint32_t index, const std::int32_t* positions = nullptr,
                std::uint8_t position_count = 0);
    // Frees what every reader has moved past; returns how many indices were freed.
    std::size_t reclaim(const std::function<void(std::int32_t)>& free_position = {});

  private:
    struct Retired {
        std::uint64_t token;
        std::uint32_t index;
        std::int32_t positions[2];
        std::uint8_t position_count;
    };

    rte_ring* free_ = nullptr;
    rte_rcu_qsbr* rcu_ = nullptr;
    std::uint32_t capacity_ = 0;
    mutable rte_spinlock_t lock_ = RTE_SPINLOCK_INITIALIZER; // guards the pending ring below
    // Retired indices waiting for their grace period, oldest first: a circular buffer sized at
    // start-up, because a worker retires too (a std::deque allocated on the packet path, and a
    // failed allocation would have left the lock held). An index is retired at most once before
    // it is reclaimed, so `capacity` places always suffice.
    std::unique_ptr<Retired[]> pending_;
    std::uint32_t pending_head_ = 0;
    std::uint32_t pending_count_ = 0;
};

} // namespace lb::dataplane
