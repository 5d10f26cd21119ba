// Persistence templates: (client address & netmask, service) → real server. A template is
// refreshed by each new connection created under it and never expires while a connection it
// controls is alive (children > 0).
//
// Concurrency: lookups are lock-free. A template's `children` word carries a "retired" bit:
// workers attach a child with one fetch_add and back off if the bit was set; the collector
// retires a template only by CAS from exactly zero children. Creating and retiring templates
// is serialised by a spinlock so that a retired key is gone from the hash before anyone
// re-creates it: contention is limited to template creation, never established traffic.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>

#include <rte_spinlock.h>

#include "dataplane/indexed_hash.hpp"

namespace lb::dataplane {

struct PersistenceKey {
    std::uint32_t client = 0; // masked, network order
    std::uint16_t service = 0;
    std::uint16_t padding = 0;
};
static_assert(sizeof(PersistenceKey) == 8);

// The real server a template binds to: its index in the snapshot that chose it, and its address
// and port, so that a template outliving a configuration change is never read as pointing at
// whatever server now has that index. One word, so it is read and replaced atomically.
struct TemplateTarget {
    std::uint16_t real_server = 0;
    std::uint16_t port = 0;    // network order
    std::uint32_t address = 0; // network order

    std::uint64_t pack() const {
        return (std::uint64_t{address} << 32) | (std::uint64_t{port} << 16) | real_server;
    }
    static TemplateTarget unpack(std::uint64_t w) {
        return {static_cast<std::uint16_t>(w), static_cast<std::uint16_t>(w >> 16),
                static_cast<std::uint32_t>(w >> 32)};
    }
};

struct alignas(32) PersistenceTemplate {
    PersistenceKey key;
    std::atomic<std::uint64_t> target{0}; // TemplateTarget::pack()
    std::atomic<std::uint32_t> last_used_ms{0};
    std::atomic<std::uint32_t> timeout_ms{0};
    std::atomic<std::uint32_t> children{0}; // bit 31: retired
    std::atomic<std::uint8_t> live{0};

    static constexpr std::uint32_t retired_bit = 0x80000000u;
};

class PersistenceTable {
  public:
    PersistenceTable(std::uint32_t capacity, rte_rcu_qsbr* rcu, int socket,
                     const char* name = "persist");
    ~PersistenceTable();

    std::uint32_t capacity() const { return hash_.capacity(); }
    PersistenceTemplate& at(std::uint32_t i) { return entries_[i]; }
    const PersistenceTemplate& at(std::uint32_t i) const { return entries_[i]; }

    struct Attached {
        std::uint32_t index;
        // False when the template had outlived its timeout with no connection alive: it is kept
        // (cheaper than retiring it under the lock) but its real server must be chosen anew.
        bool still_valid;
    };
    // A live template for `key` with one more child attached, or nullopt. The caller must also
    // check that its real server may still take connections.
    std::optional<Attached> find_and_attach(const PersistenceKey& key, std::uint32_t now);
    // Creates a template (or attaches to one another worker just created) pointing at
    // `target`, with one child attached. nullopt when the table is full.
    std::optional<Attached> create_and_attach(const PersistenceKey& key, TemplateTarget target,
                                              std::uint32_t now, std::uint32_t timeout);
    TemplateTarget target(std::uint32_t index) const {
        return TemplateTarget::unpack(entries_[index].target.load(std::memory_order_relaxed));
    }
    void set_target(std::uint32_t index, TemplateTarget target) {
        entries_[index].target.store(target.pack(), std::memory_order_relaxed);
    }
    void detach(std::uint32_t index) {
        entries_[index].children.fetch_sub(1, std::memory_order_acq_rel);
    }
    // Refresh on each new connection under the template.
    void refresh(std::uint32_t index, std::uint32_t now) {
        entries_[index].last_used_ms.store(now, std::memory_order_relaxed);
    }

    // Replication (control side): the template for `key`, created without children or updated,
    // pointing at `target` and last used at `last_used`. nullopt when the table is full.
    std::optional<std::uint32_t> install(const PersistenceKey& key, TemplateTarget target,
                                         std::uint32_t last_used, std::uint32_t timeout);
    std::optional<std::uint32_t> find(const PersistenceKey& key) const {
        if (auto hit = hash_.lookup(&key); hit && entries_[hit->first].live.load())
            return hit->first;
        return std::nullopt;
    }

    // Control side: retires expired templates without children.
    std::uint32_t collect(std::uint32_t cursor, std::uint32_t budget, std::uint32_t now);
    std::size_t reclaim() { return hash_.reclaim(); }
    std::size_t size() const { return live_.load(std::memory_order_relaxed); }

  private:
    // Attaches a child unless the template is retired; sets still_valid.
    bool try_attach(PersistenceTemplate& t, std::uint32_t now, bool& still_valid);

    IndexedHash hash_;
    PersistenceTemplate* entries_ = nullptr;
    rte_spinlock_t lifecycle_lock_ = RTE_SPINLOCK_INITIALIZER;
    std::atomic<std::size_t> live_{0};
};

} // namespace lb::dataplane
