#include "dataplane/indexed_hash.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

namespace lb::dataplane {

namespace {

std::uintptr_t pack(std::uint32_t index, std::uint32_t tag) {
    return (static_cast<std::uintptr_t>(index) << 8) | (tag & 0xff);
}

} // namespace

IndexedHash::IndexedHash(const std::string& name, std::uint32_t capacity,
                         std::uint32_t keys_per_entry, std::uint32_t key_length, rte_rcu_qsbr* rcu,
                         int socket)
    : rcu_(rcu), capacity_(capacity) {
    rte_hash_parameters params{};
    const std::string hash_name = name + "_h";
    params.name = hash_name.c_str();
    params.entries = capacity * keys_per_entry;
    params.key_len = key_length;
    params.hash_func = rte_hash_crc;
    params.hash_func_init_val = 0;
    params.socket_id = socket;
    // EXT_TABLE: extendable buckets, so that every one of `entries` keys fits whatever the
    // cuckoo displacement does; "full" is then decided by the free-index ring alone.
    params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
                        RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    hash_ = rte_hash_create(&params);
    if (!hash_)
        throw std::runtime_error(fmt::format("cannot create hash table '{}' for {} entries: {} "
                                             "(too little hugepage memory?)",
                                             name, params.entries, rte_strerror(rte_errno)));
    const std::string ring_name = name + "_r";
    free_indices_ = rte_ring_create_elem(ring_name.c_str(), sizeof(std::uint32_t), capacity, socket,
                                         RING_F_EXACT_SZ);
    if (!free_indices_) {
        rte_hash_free(hash_);
        throw std::runtime_error(fmt::format("cannot create the free-index ring for '{}': {}", name,
                                             rte_strerror(rte_errno)));
    }
    for (std::uint32_t i = 0; i < capacity; ++i)
        rte_ring_enqueue_elem(free_indices_, &i, sizeof(i));
}

IndexedHash::~IndexedHash() {
    rte_hash_free(hash_);
    rte_ring_free(free_indices_);
}

std::optional<std::uint32_t> IndexedHash::allocate() {
    std::uint32_t index;
    if (rte_ring_dequeue_elem(free_indices_, &index, sizeof(index)) != 0)
        return std::nullopt;
    return index;
}

void IndexedHash::release_unpublished(std::uint32_t index) {
    rte_ring_enqueue_elem(free_indices_, &index, sizeof(index));
}

bool IndexedHash::add(const void* key, std::uint32_t index, std::uint32_t tag) {
    return rte_hash_add_key_data(hash_, key, reinterpret_cast<void*>(pack(index, tag))) == 0;
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> IndexedHash::lookup(const void* key) const {
    void* data = nullptr;
    if (rte_hash_lookup_data(hash_, key, &data) < 0)
        return std::nullopt;
    auto packed = reinterpret_cast<std::uintptr_t>(data);
    return std::pair{static_cast<std::uint32_t>(packed >> 8),
                     static_cast<std::uint32_t>(packed & 0xff)};
}

std::uint64_t IndexedHash::lookup_bulk(const void** keys, std::uint32_t n, std::uint32_t* indices,
                                       std::uint32_t* tags) const {
    void* data[RTE_HASH_LOOKUP_BULK_MAX];
    std::uint64_t hits = 0;
    if (n == 0 || rte_hash_lookup_bulk_data(hash_, keys, n, &hits, data) < 0)
        return 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (hits & (std::uint64_t{1} << i)) {
            auto packed = reinterpret_cast<std::uintptr_t>(data[i]);
            indices[i] = static_cast<std::uint32_t>(packed >> 8);
            tags[i] = static_cast<std::uint32_t>(packed & 0xff);
        }
    }
    return hits;
}

bool IndexedHash::remove_key(const void* key) {
    const std::int32_t position = rte_hash_del_key(hash_, key);
    if (position < 0)
        return false;
    if (removed_count_ < 2)
        removed_positions_[removed_count_++] = position;
    return true;
}

void IndexedHash::retire(std::uint32_t index) {
    Retired r{};
    r.token = rcu_ ? rte_rcu_qsbr_start(rcu_) : 0;
    r.index = index;
    r.position_count = removed_count_;
    r.positions[0] = removed_positions_[0];
    r.positions[1] = removed_positions_[1];
    removed_count_ = 0;
    pending_.push_back(r);
}

std::size_t IndexedHash::reclaim() {
    std::size_t freed = 0;
    while (!pending_.empty()) {
        const Retired& r = pending_.front();
        if (rcu_ && rte_rcu_qsbr_check(rcu_, r.token, false) != 1)
            break; // tokens are increasing: later entries are not ready either
        for (std::uint8_t i = 0; i < r.position_count; ++i)
            rte_hash_free_key_with_position(hash_, r.positions[i]);
        std::uint32_t index = r.index;
        rte_ring_enqueue_elem(free_indices_, &index, sizeof(index));
        pending_.pop_front();
        ++freed;
    }
    return freed;
}

} // namespace lb::dataplane
