// The connection table's index: FlowKey → (entry index, which of the entry's keys), shared by
// every worker with lock-free lookups.
//
// Why not rte_hash here (it serves the persistence templates): rte_hash keeps each key in a
// separate key store, so a lookup in a large table misses three cache lines in turn (bucket, key,
// then our connection entry). The connection entry already holds the 5-tuple, so this table
// keeps only a signature and the entry index per slot and compares the full key inside the entry:
// two misses per packet, both prefetched a burst at a time, and 8 bytes of slot per key instead
// of ~50. Measured with scripts/bench: see docs/design.md.
//
// Layout: 64-byte buckets of 7 slots plus an overflow count, linear probing bucket by bucket.
// A slot is one 64-bit word (occupied bit, 30-bit signature, tag, 32-bit index), so readers
// never see half an entry. A bucket's overflow count is the number of keys stored beyond it
// whose home is at or before it: a lookup stops at the first bucket that has none, and deletion
// empties the slot (no tombstones) and decrements the counts along the probe path. Writers
// (insert, remove) are serialised by a spinlock; readers take none. Entry indices are recycled
// only after an RCU grace period (IndexPool), so a reader holding a stale slot word still reads
// the entry it pointed at and simply finds a different key.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include <rte_hash_crc.h>
#include <rte_prefetch.h>
#include <rte_spinlock.h>

#include "dataplane/flow_key.hpp"

namespace lb::dataplane {

class FlowTable {
  public:
    static constexpr unsigned slots_per_bucket = 7;
    static constexpr std::uint32_t max_bulk = 64;

    struct Hit {
        std::uint32_t index;
        std::uint8_t tag;
    };

    // Room for `max_keys` keys at no more than ~70% of the slots.
    FlowTable(const std::string& name, std::uint32_t max_keys, int socket);
    ~FlowTable();
    FlowTable(const FlowTable&) = delete;
    FlowTable& operator=(const FlowTable&) = delete;

    std::size_t bucket_count() const { return mask_ + 1; }

    // `Entries` tells the table about the entries its slots point at, so that it can compare
    // full keys without storing them:
    //   const void* address(std::uint32_t index): where the entry is (prefetched);
    //   bool matches(std::uint32_t index, std::uint8_t tag, const FlowKey& key).
    template <typename Entries>
    std::optional<Hit> lookup(const FlowKey& key, const Entries& entries) const {
        return probe(key, hash(key), entries);
    }

    // Up to max_bulk keys; returns the hit mask and fills hits[i] for each hit.
    template <typename Entries>
    std::uint64_t lookup_bulk(const FlowKey* const* keys, std::uint32_t n, Hit* hits,
                              const Entries& entries) const;

    // Starts loading the home bucket of `key` (before an insert).
    void prefetch(const FlowKey& key) const { rte_prefetch0(&buckets_[hash(key).bucket]); }

    // Writers. insert() refuses a key already present (returns false, as when full).
    template <typename Entries>
    bool insert(const FlowKey& key, std::uint32_t index, std::uint8_t tag, const Entries& entries);
    // Removes the slot holding exactly (key's signature, index, tag). False if absent.
    bool remove(const FlowKey& key, std::uint32_t index, std::uint8_t tag);

  private:
    struct alignas(64) Bucket {
        std::atomic<std::uint64_t> slots[slots_per_bucket];
        std::atomic<std::uint32_t> overflow;
        std::uint32_t unused;
    };
    static_assert(sizeof(Bucket) == 64);

    struct Hashes {
        std::uint32_t bucket;
        std::uint64_t signature; // already shifted into place, occupied bit set
    };

    static constexpr std::uint64_t occupied_bit = std::uint64_t{1} << 63;
    static constexpr std::uint64_t signature_mask = ((std::uint64_t{1} << 30) - 1) << 33;
    static constexpr std::uint64_t tag_bit = std::uint64_t{1} << 32;

    Hashes hash(const FlowKey& key) const {
        const std::uint32_t h1 = rte_hash_crc(&key, sizeof(key), 0);
        const std::uint32_t h2 = rte_hash_crc(&key, sizeof(key), 0x9e3779b9u);
        return {h1 & mask_, occupied_bit | ((std::uint64_t{h2} << 33) & signature_mask)};
    }
    static std::uint64_t slot_word(std::uint64_t signature, std::uint32_t index, std::uint8_t tag) {
        return signature | (tag ? tag_bit : 0) | index;
    }
    static Hit hit_of(std::uint64_t word) {
        return {static_cast<std::uint32_t>(word),
                static_cast<std::uint8_t>((word & tag_bit) ? 1 : 0)};
    }

    template <typename Entries>
    std::optional<Hit> probe(const FlowKey& key, const Hashes& h, const Entries& entries) const {
        std::uint32_t b = h.bucket;
        for (std::uint32_t step = 0; step <= mask_; ++step, b = (b + 1) & mask_) {
            const Bucket& bucket = buckets_[b];
            for (const auto& slot : bucket.slots) {
                const std::uint64_t w = slot.load(std::memory_order_acquire);
                if ((w & (occupied_bit | signature_mask)) != h.signature)
                    continue;
                const Hit hit = hit_of(w);
                if (entries.matches(hit.index, hit.tag, key))
                    return hit;
            }
            if (bucket.overflow.load(std::memory_order_acquire) == 0)
                return std::nullopt;
        }
        return std::nullopt;
    }

    Bucket* buckets_ = nullptr;
    std::uint32_t mask_ = 0;
    mutable rte_spinlock_t writer_lock_ = RTE_SPINLOCK_INITIALIZER;
};

template <typename Entries>
std::uint64_t FlowTable::lookup_bulk(const FlowKey* const* keys, std::uint32_t n, Hit* hits,
                                     const Entries& entries) const {
    Hashes h[max_bulk];
    std::uint64_t candidate[max_bulk];
    // 1. Hash every key and start loading its home bucket.
    for (std::uint32_t i = 0; i < n; ++i) {
        h[i] = hash(*keys[i]);
        rte_prefetch0(&buckets_[h[i].bucket]);
    }
    // 2. First signature match in the home bucket; start loading the entry it names.
    for (std::uint32_t i = 0; i < n; ++i) {
        candidate[i] = 0;
        for (const auto& slot : buckets_[h[i].bucket].slots) {
            const std::uint64_t w = slot.load(std::memory_order_acquire);
            if ((w & (occupied_bit | signature_mask)) == h[i].signature) {
                candidate[i] = w;
                rte_prefetch0(entries.address(hit_of(w).index));
                break;
            }
        }
    }
    // 3. Confirm with the full key; anything unusual (no match but overflow, a signature
    //    collision) takes the complete probe.
    std::uint64_t found = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (candidate[i]) {
            const Hit c = hit_of(candidate[i]);
            if (entries.matches(c.index, c.tag, *keys[i])) {
                hits[i] = c;
                found |= std::uint64_t{1} << i;
                continue;
            }
        } else if (buckets_[h[i].bucket].overflow.load(std::memory_order_acquire) == 0) {
            continue; // a plain miss: nothing was stored beyond the home bucket
        }
        if (auto r = probe(*keys[i], h[i], entries)) {
            hits[i] = *r;
            found |= std::uint64_t{1} << i;
        }
    }
    return found;
}

template <typename Entries>
bool FlowTable::insert(const FlowKey& key, std::uint32_t index, std::uint8_t tag,
                       const Entries& entries) {
    const Hashes h = hash(key);
    rte_spinlock_lock(&writer_lock_);
    if (probe(key, h, entries)) {
        rte_spinlock_unlock(&writer_lock_);
        return false;
    }
    std::uint32_t b = h.bucket;
    for (std::uint32_t step = 0; step <= mask_; ++step, b = (b + 1) & mask_) {
        for (auto& slot : buckets_[b].slots) {
            if (slot.load(std::memory_order_relaxed) != 0)
                continue;
            // Mark the path first, so that a reader that sees the slot also finds the way.
            for (std::uint32_t p = h.bucket; p != b; p = (p + 1) & mask_)
                buckets_[p].overflow.fetch_add(1, std::memory_order_release);
            slot.store(slot_word(h.signature, index, tag), std::memory_order_release);
            rte_spinlock_unlock(&writer_lock_);
            return true;
        }
    }
    rte_spinlock_unlock(&writer_lock_);
    return false;
}

} // namespace lb::dataplane
