#include "dataplane/connection_table.hpp"

#include <new>
#include <stdexcept>

#include <rte_malloc.h>

#include "dataplane/clock.hpp"

namespace lb::dataplane {

const char* tcp_state_name(TcpState s) {
    switch (s) {
    case TcpState::none:
        return "none";
    case TcpState::syn_sent:
        return "syn_sent";
    case TcpState::syn_received:
        return "syn_received";
    case TcpState::established:
        return "established";
    case TcpState::fin_wait:
        return "fin_wait";
    case TcpState::close:
        return "close";
    }
    return "?";
}

ConnectionTable::ConnectionTable(std::uint32_t capacity, bool with_reply_keys, rte_rcu_qsbr* rcu,
                                 int socket, const char* name)
    : hash_(name, capacity, with_reply_keys ? 2 : 1, sizeof(FlowKey), rcu, socket) {
    entries_ = static_cast<Connection*>(
        rte_zmalloc_socket(name, sizeof(Connection) * capacity, alignof(Connection), socket));
    if (!entries_)
        throw std::runtime_error("cannot allocate the connection table entries (too little "
                                 "hugepage memory for tables.connections?)");
    for (std::uint32_t i = 0; i < capacity; ++i)
        new (&entries_[i]) Connection();
}

ConnectionTable::~ConnectionTable() {
    rte_free(entries_);
}

std::optional<ConnectionHit> ConnectionTable::lookup(const FlowKey& key) const {
    auto r = hash_.lookup(&key);
    if (!r)
        return std::nullopt;
    return ConnectionHit{r->first, static_cast<KeyDirection>(r->second)};
}

std::uint64_t ConnectionTable::lookup_bulk(const FlowKey** keys, std::uint32_t n,
                                           ConnectionHit* hits) const {
    std::uint32_t indices[64];
    std::uint32_t tags[64];
    const std::uint64_t mask =
        hash_.lookup_bulk(reinterpret_cast<const void**>(keys), n, indices, tags);
    for (std::uint32_t i = 0; i < n; ++i)
        if (mask & (std::uint64_t{1} << i))
            hits[i] = {indices[i], static_cast<KeyDirection>(tags[i])};
    return mask;
}

InsertResult ConnectionTable::insert(const ConnectionSpec& spec, TcpState state, std::uint32_t now,
                                     std::uint32_t timeout, std::uint32_t* index_out) {
    const bool nat = spec.flags & conn_nat;
    const FlowKey reply = spec.reply_key();
    if (nat && hash_.lookup(&reply))
        return InsertResult::reply_tuple_in_use;
    auto index = hash_.allocate();
    if (!index)
        return InsertResult::table_full;
    Connection& c = entries_[*index];
    static_cast<ConnectionSpec&>(c) = spec;
    c.state.store(state, std::memory_order_relaxed);
    c.last_seen_ms.store(now, std::memory_order_relaxed);
    c.timeout_ms.store(timeout, std::memory_order_relaxed);
    c.live.store(1, std::memory_order_release);
    // rte_hash's add is a release: a reader that finds the key sees the entry written above.
    if (!hash_.add(&c.key, *index, static_cast<std::uint32_t>(KeyDirection::from_client))) {
        c.live.store(0, std::memory_order_relaxed);
        hash_.release_unpublished(*index);
        return InsertResult::table_full;
    }
    if (nat &&
        !hash_.add(&reply, *index, static_cast<std::uint32_t>(KeyDirection::from_real_server))) {
        // Cannot un-publish lock-free here: leave it to the collector with an expired timeout.
        c.timeout_ms.store(0, std::memory_order_relaxed);
        c.last_seen_ms.store(now - 1, std::memory_order_relaxed);
        live_.fetch_add(1, std::memory_order_relaxed);
        return InsertResult::table_full;
    }
    live_.fetch_add(1, std::memory_order_relaxed);
    if (index_out)
        *index_out = *index;
    return InsertResult::inserted;
}

void ConnectionTable::remove(std::uint32_t index) {
    Connection& c = entries_[index];
    c.live.store(0, std::memory_order_relaxed);
    hash_.remove_key(&c.key);
    if (c.flags & conn_nat) {
        const FlowKey reply = c.reply_key();
        hash_.remove_key(&reply);
    }
    hash_.retire(index);
    live_.fetch_sub(1, std::memory_order_relaxed);
}

std::uint32_t ConnectionTable::collect(std::uint32_t cursor, std::uint32_t budget,
                                       std::uint32_t now,
                                       const std::function<void(const Connection&)>& on_expire) {
    const std::uint32_t cap = capacity();
    for (std::uint32_t n = 0; n < budget && n < cap; ++n) {
        if (cursor >= cap)
            cursor = 0;
        Connection& c = entries_[cursor];
        if (c.live.load(std::memory_order_acquire) &&
            expired(now, c.last_seen_ms.load(std::memory_order_relaxed),
                    c.timeout_ms.load(std::memory_order_relaxed))) {
            on_expire(c);
            remove(cursor);
        }
        ++cursor;
    }
    return cursor;
}

} // namespace lb::dataplane
