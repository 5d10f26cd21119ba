// A lock-free-read hash (rte_hash with RW_CONCURRENCY_LF and MULTI_WRITER_ADD) from
// fixed-size keys to entry indices, for the persistence templates: shared by every worker,
// lookups take no lock, inserts and deletes take rte_hash's writer lock. Entries live in a flat
// array owned by the caller, indexed by a number from an IndexPool, so an entry is fully written
// before its key becomes visible. Deleted keys' hash slots return to circulation with their
// index, after the RCU grace period.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "dataplane/index_pool.hpp"

struct rte_hash;

namespace lb::dataplane {

class IndexedHash {
  public:
    // `capacity` entries; `keys_per_entry` hash keys each may use (2 for NAT connections).
    IndexedHash(const std::string& name, std::uint32_t capacity, std::uint32_t keys_per_entry,
                std::uint32_t key_length, rte_rcu_qsbr* rcu, int socket);
    ~IndexedHash();
    IndexedHash(const IndexedHash&) = delete;
    IndexedHash& operator=(const IndexedHash&) = delete;

    std::uint32_t capacity() const { return indices_.capacity(); }

    // Worker or control side.
    std::optional<std::uint32_t> allocate();
    void release_unpublished(std::uint32_t index); // an index whose keys were never added
    // Adds key → (index, tag). False when the hash is full. Overwrites an existing key, so
    // callers look up first.
    bool add(const void* key, std::uint32_t index, std::uint32_t tag);
    // Index and tag of `key`, or nullopt.
    std::optional<std::pair<std::uint32_t, std::uint32_t>> lookup(const void* key) const;
    // Bulk lookup of up to 64 keys; hit bit i set in the result when keys[i] was found.
    std::uint64_t lookup_bulk(const void** keys, std::uint32_t n, std::uint32_t* indices,
                              std::uint32_t* tags) const;

    // Removes a key now; its slot is freed by a later reclaim(). Returns false if absent.
    // Deleters must be serialised by the caller (one control thread, or a lock).
    bool remove_key(const void* key);
    // Queues `index` to return to the free ring after the grace period. Call after
    // remove_key() for each of the entry's keys.
    void retire(std::uint32_t index);
    // Frees what every reader has moved past. Returns how many entries were freed.
    std::size_t reclaim();

  private:
    rte_hash* hash_ = nullptr;
    IndexPool indices_;
    // Positions removed from the hash but not yet retired with their index.
    std::int32_t removed_positions_[2] = {-1, -1};
    std::uint8_t removed_count_ = 0;
};

} // namespace lb::dataplane
