#include "dataplane/persistence_table.hpp"

#include <new>
#include <stdexcept>

#include <rte_malloc.h>

#include "dataplane/clock.hpp"

namespace lb::dataplane {

PersistenceTable::PersistenceTable(std::uint32_t capacity, rte_rcu_qsbr* rcu, int socket,
                                   const char* name)
    : hash_(name, capacity, 1, sizeof(PersistenceKey), rcu, socket) {
    entries_ = static_cast<PersistenceTemplate*>(rte_zmalloc_socket(
        name, sizeof(PersistenceTemplate) * capacity, alignof(PersistenceTemplate), socket));
    if (!entries_)
        throw std::runtime_error("cannot allocate the persistence template table (too little "
                                 "hugepage memory for tables.persistence_templates?)");
    for (std::uint32_t i = 0; i < capacity; ++i)
        new (&entries_[i]) PersistenceTemplate();
}

PersistenceTable::~PersistenceTable() {
    rte_free(entries_);
}

bool PersistenceTable::try_attach(PersistenceTemplate& t, std::uint32_t now, bool& still_valid) {
    const std::uint32_t before = t.children.fetch_add(1, std::memory_order_acq_rel);
    if (before & PersistenceTemplate::retired_bit) {
        t.children.fetch_sub(1, std::memory_order_acq_rel);
        return false;
    }
    still_valid = before != 0 || !expired(now, t.last_used_ms.load(std::memory_order_relaxed),
                                          t.timeout_ms.load(std::memory_order_relaxed));
    return true;
}

std::optional<PersistenceTable::Attached>
PersistenceTable::find_and_attach(const PersistenceKey& key, std::uint32_t now) {
    auto hit = hash_.lookup(&key);
    bool valid = false;
    if (!hit || !try_attach(entries_[hit->first], now, valid))
        return std::nullopt;
    return Attached{hit->first, valid};
}

std::optional<PersistenceTable::Attached>
PersistenceTable::create_and_attach(const PersistenceKey& key, TemplateTarget target,
                                    std::uint32_t now, std::uint32_t timeout) {
    rte_spinlock_lock(&lifecycle_lock_);
    // Another worker may have created it since our lookup.
    bool valid = false;
    if (auto hit = hash_.lookup(&key); hit && try_attach(entries_[hit->first], now, valid)) {
        rte_spinlock_unlock(&lifecycle_lock_);
        return Attached{hit->first, valid};
    }
    std::optional<Attached> result;
    if (auto index = hash_.allocate()) {
        PersistenceTemplate& t = entries_[*index];
        t.key = key;
        t.target.store(target.pack(), std::memory_order_relaxed);
        t.last_used_ms.store(now, std::memory_order_relaxed);
        t.timeout_ms.store(timeout, std::memory_order_relaxed);
        t.children.store(1, std::memory_order_relaxed);
        t.live.store(1, std::memory_order_release);
        if (hash_.add(&t.key, *index, 0)) {
            live_.fetch_add(1, std::memory_order_relaxed);
            result = Attached{*index, true};
        } else {
            t.live.store(0, std::memory_order_relaxed);
            hash_.release_unpublished(*index);
        }
    }
    rte_spinlock_unlock(&lifecycle_lock_);
    return result;
}

std::optional<std::uint32_t> PersistenceTable::install(const PersistenceKey& key,
                                                       TemplateTarget target,
                                                       std::uint32_t last_used,
                                                       std::uint32_t timeout) {
    const auto attached = create_and_attach(key, target, last_used, timeout);
    if (!attached)
        return std::nullopt;
    PersistenceTemplate& t = entries_[attached->index];
    t.target.store(target.pack(), std::memory_order_relaxed);
    t.last_used_ms.store(last_used, std::memory_order_relaxed);
    t.timeout_ms.store(timeout, std::memory_order_relaxed);
    detach(attached->index);
    return attached->index;
}

std::uint32_t PersistenceTable::collect(std::uint32_t cursor, std::uint32_t budget,
                                        std::uint32_t now) {
    const std::uint32_t cap = capacity();
    for (std::uint32_t n = 0; n < budget && n < cap; ++n) {
        if (cursor >= cap)
            cursor = 0;
        PersistenceTemplate& t = entries_[cursor++];
        if (!t.live.load(std::memory_order_acquire) ||
            t.children.load(std::memory_order_relaxed) != 0 ||
            !expired(now, t.last_used_ms.load(std::memory_order_relaxed),
                     t.timeout_ms.load(std::memory_order_relaxed)))
            continue;
        rte_spinlock_lock(&lifecycle_lock_);
        std::uint32_t zero = 0;
        if (t.children.compare_exchange_strong(zero, PersistenceTemplate::retired_bit,
                                               std::memory_order_acq_rel)) {
            t.live.store(0, std::memory_order_relaxed);
            hash_.remove_key(&t.key);
            hash_.retire(static_cast<std::uint32_t>(&t - entries_));
            live_.fetch_sub(1, std::memory_order_relaxed);
        }
        rte_spinlock_unlock(&lifecycle_lock_);
    }
    return cursor;
}

} // namespace lb::dataplane
