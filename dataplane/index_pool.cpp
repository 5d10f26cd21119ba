#include "dataplane/index_pool.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

namespace lb::dataplane {

IndexPool::IndexPool(const std::string& name, std::uint32_t capacity, rte_rcu_qsbr* rcu, int socket)
    : rcu_(rcu), capacity_(capacity), pending_(std::make_unique<Retired[]>(capacity)) {
    free_ = rte_ring_create_elem(name.c_str(), sizeof(std::uint32_t), capacity, socket,
                                 RING_F_EXACT_SZ);
    if (!free_)
        throw std::runtime_error(fmt::format("cannot create the free-index ring '{}': {}", name,
                                             rte_strerror(rte_errno)));
    for (std::uint32_t i = 0; i < capacity; ++i)
        rte_ring_enqueue_elem(free_, &i, sizeof(i));
}

IndexPool::~IndexPool() {
    rte_ring_free(free_);
}

std::optional<std::uint32_t> IndexPool::allocate() {
    std::uint32_t index;
    if (rte_ring_dequeue_elem(free_, &index, sizeof(index)) != 0)
        return std::nullopt;
    return index;
}

void IndexPool::release_unpublished(std::uint32_t index) {
    rte_ring_enqueue_elem(free_, &index, sizeof(index));
}

void IndexPool::retire(std::uint32_t index, const std::int32_t* positions,
                       std::uint8_t position_count) {
    Retired r{};
    r.token = rcu_ ? rte_rcu_qsbr_start(rcu_) : 0;
    r.index = index;
    r.position_count = position_count;
    for (std::uint8_t i = 0; i < position_count && i < 2; ++i)
        r.positions[i] = positions[i];
    rte_spinlock_lock(&lock_);
    if (pending_count_ < capacity_) { // always, unless an index were retired twice
        pending_[(pending_head_ + pending_count_) % capacity_] = r;
        ++pending_count_;
    }
    rte_spinlock_unlock(&lock_);
}

std::size_t IndexPool::reclaim(const std::function<void(std::int32_t)>& free_position) {
    std::size_t freed = 0;
    rte_spinlock_lock(&lock_);
    while (pending_count_ != 0) {
        const Retired& r = pending_[pending_head_];
        if (rcu_ && rte_rcu_qsbr_check(rcu_, r.token, false) != 1)
            break; // tokens are increasing: later entries are not ready either
        for (std::uint8_t i = 0; i < r.position_count; ++i)
            free_position(r.positions[i]);
        std::uint32_t index = r.index;
        rte_ring_enqueue_elem(free_, &index, sizeof(index));
        pending_head_ = (pending_head_ + 1) % capacity_;
        --pending_count_;
        ++freed;
    }
    rte_spinlock_unlock(&lock_);
    return freed;
}

} // namespace lb::dataplane
