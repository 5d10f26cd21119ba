#include "dataplane/flow_table.hpp"

#include <bit>
#include <new>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_malloc.h>

namespace lb::dataplane {

FlowTable::FlowTable(const std::string& name, std::uint32_t max_keys, int socket) {
    // At most 5 of 7 slots used on average: probe sequences stay within a bucket or two.
    const std::uint64_t wanted = (std::uint64_t{max_keys} + 4) / 5;
    const std::uint64_t count = std::bit_ceil(std::max<std::uint64_t>(wanted, 2));
    if (count > (std::uint64_t{1} << 31))
        throw std::runtime_error(fmt::format("flow table '{}' is too large", name));
    buckets_ = static_cast<Bucket*>(
        rte_zmalloc_socket(name.c_str(), sizeof(Bucket) * count, alignof(Bucket), socket));
    if (!buckets_)
        throw std::runtime_error(fmt::format("cannot allocate {} MiB for flow table '{}' (too "
                                             "little hugepage memory?)",
                                             sizeof(Bucket) * count >> 20, name));
    for (std::uint64_t i = 0; i < count; ++i)
        new (&buckets_[i]) Bucket{};
    mask_ = static_cast<std::uint32_t>(count - 1);
}

FlowTable::~FlowTable() {
    rte_free(buckets_);
}

bool FlowTable::remove(const FlowKey& key, std::uint32_t index, std::uint8_t tag) {
    const Hashes h = hash(key);
    const std::uint64_t word = slot_word(h.signature, index, tag);
    rte_spinlock_lock(&writer_lock_);
    std::uint32_t b = h.bucket;
    for (std::uint32_t step = 0; step <= mask_; ++step, b = (b + 1) & mask_) {
        for (auto& slot : buckets_[b].slots) {
            if (slot.load(std::memory_order_relaxed) != word)
                continue;
            slot.store(0, std::memory_order_release);
            for (std::uint32_t p = h.bucket; p != b; p = (p + 1) & mask_)
                buckets_[p].overflow.fetch_sub(1, std::memory_order_release);
            rte_spinlock_unlock(&writer_lock_);
            return true;
        }
        if (buckets_[b].overflow.load(std::memory_order_relaxed) == 0)
            break;
    }
    rte_spinlock_unlock(&writer_lock_);
    return false;
}

} // namespace lb::dataplane
