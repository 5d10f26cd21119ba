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

struct alignas(32) PersistenceTemplate {
    PersistenceKey key;
    std::atomic<std::uint16_t> real_server{0};
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
    // `real_server`, with one child attached. nullopt when the table is full.
    std::optional<Attached> create_and_attach(const PersistenceKey& key, std::uint16_t real_server,
                                              std::uint32_t now, std::uint32_t timeout);
    void set_real_server(std::uint32_t index, std::uint16_t real_server) {
        entries_[index].real_server.store(real_server, std::memory_order_relaxed);
    }
    void detach(std::uint32_t index) {
        entries_[index].children.fetch_sub(1, std::memory_order_acq_rel);
    }
    // Refresh on each new connection under the template.
    void refresh(std::uint32_t index, std::uint32_t now) {
        entries_[index].last_used_ms.store(now, std::memory_order_relaxed);
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
