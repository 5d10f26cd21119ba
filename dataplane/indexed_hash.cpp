#include "dataplane/indexed_hash.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>

namespace lb::dataplane {

namespace {

std::uintptr_t pack(std::uint32_t index, std::uint32_t tag) {
    return (static_cast<std::uintptr_t>(index) << 8) | (tag & 0xff);
}

} // namespace

IndexedHash::IndexedHash(const std::string& name, std::uint32_t capacity,
                         std::uint32_t keys_per_entry, std::uint32_t key_length, rte_rcu_qsbr* rcu,
                         int socket)
    : indices_(name + "_r", capacity, rcu, socket) {
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
}

IndexedHash::~IndexedHash() {
    rte_hash_free(hash_);
}

std::optional<std::uint32_t> IndexedHash::allocate() {
    return indices_.allocate();
}

void IndexedHash::release_unpublished(std::uint32_t index) {
    indices_.release_unpublished(index);
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
    indices_.retire(index, removed_positions_, removed_count_);
    removed_count_ = 0;
}

std::size_t IndexedHash::reclaim() {
    return indices_.reclaim(
        [this](std::int32_t position) { rte_hash_free_key_with_position(hash_, position); });
}

} // namespace lb::dataplane
