#include "dataplane/connection_table.hpp"

#include <new>
#include <stdexcept>
#include <string>

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

namespace {

Connection* allocate_entries(const char* name, std::uint32_t capacity, int socket) {
    auto* entries = static_cast<Connection*>(
        rte_zmalloc_socket(name, sizeof(Connection) * capacity, alignof(Connection), socket));
    if (!entries)
        throw std::runtime_error("cannot allocate the connection table entries (too little "
                                 "hugepage memory for tables.connections?)");
    for (std::uint32_t i = 0; i < capacity; ++i)
        new (&entries[i]) Connection();
    return entries;
}

} // namespace

ConnectionTable::ConnectionTable(std::uint32_t capacity, bool with_reply_keys, rte_rcu_qsbr* rcu,
                                 int socket, const char* name)
    : entries_(allocate_entries(name, capacity, socket)),
      indices_(std::string(name) + "_free", capacity, rcu, socket),
      flows_(std::string(name) + "_flows", capacity * (with_reply_keys ? 2 : 1), socket) {}

ConnectionTable::~ConnectionTable() {
    rte_free(entries_);
}

std::optional<ConnectionHit> ConnectionTable::lookup(const FlowKey& key) const {
    auto r = flows_.lookup(key, entries());
    if (!r)
        return std::nullopt;
    return ConnectionHit{r->index, static_cast<KeyDirection>(r->tag)};
}

std::uint64_t ConnectionTable::lookup_bulk(const FlowKey** keys, std::uint32_t n,
                                           ConnectionHit* hits) const {
    FlowTable::Hit found[FlowTable::max_bulk];
    const std::uint64_t mask = flows_.lookup_bulk(keys, n, found, entries());
    for (std::uint32_t i = 0; i < n; ++i)
        if (mask & (std::uint64_t{1} << i))
            hits[i] = {found[i].index, static_cast<KeyDirection>(found[i].tag)};
    return mask;
}

InsertResult ConnectionTable::insert(const ConnectionSpec& spec, TcpState state, std::uint32_t now,
                                     std::uint32_t timeout, std::uint32_t* index_out) {
    auto index = reserve();
    if (!index)
        return InsertResult::table_full;
    const InsertResult r = insert_reserved(*index, spec, state, now, timeout);
    if (r == InsertResult::inserted && index_out)
        *index_out = *index;
    return r;
}

InsertResult ConnectionTable::insert_reserved(std::uint32_t index, const ConnectionSpec& spec,
                                              TcpState state, std::uint32_t now,
                                              std::uint32_t timeout) {
    const bool nat = spec.flags & conn_nat;
    Connection& c = entries_[index];
    static_cast<ConnectionSpec&>(c) = spec;
    c.state.store(state, std::memory_order_relaxed);
    c.last_seen_ms.store(now, std::memory_order_relaxed);
    c.timeout_ms.store(timeout, std::memory_order_relaxed);
    c.ftp_state.store(no_ftp_state, std::memory_order_relaxed); // the entry may be reused
    c.live.store(1, std::memory_order_release);
    // Slots are stored with release: a reader that finds a key sees the entry written above.
    // The reply key goes first, so that a tuple already in use is refused before anything of
    // this connection is visible.
    if (nat && !flows_.insert(spec.reply_key(), index, 1, entries())) {
        c.live.store(0, std::memory_order_relaxed);
        indices_.release_unpublished(index);
        // The same flow again (another worker's, or an FTP data port announced twice) holds
        // this reply key too: that is the flow existing, not another one in the way.
        return lookup(spec.key) ? InsertResult::already_exists : InsertResult::reply_tuple_in_use;
    }
    if (!flows_.insert(c.key, index, 0, entries())) {
        if (!nat) {
            c.live.store(0, std::memory_order_relaxed);
            indices_.release_unpublished(index);
            return InsertResult::already_exists;
        }
        // The reply key was visible for a moment: take it back, and let the entry return to
        // circulation only after the RCU grace period, like any removed connection.
        c.live.store(0, std::memory_order_relaxed);
        flows_.remove(spec.reply_key(), index, 1);
        indices_.retire(index);
        return InsertResult::already_exists;
    }
    live_.fetch_add(1, std::memory_order_relaxed);
    return InsertResult::inserted;
}

bool ConnectionTable::remove(std::uint32_t index) {
    Connection& c = entries_[index];
    // Idempotent: the collector and a worker replacing an FTP announcement may race here.
    if (c.live.exchange(0, std::memory_order_acq_rel) == 0)
        return false;
    flows_.remove(c.key, index, 0);
    if (c.flags & conn_nat)
        flows_.remove(c.reply_key(), index, 1);
    indices_.retire(index);
    live_.fetch_sub(1, std::memory_order_relaxed);
    return true;
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
            if (remove(cursor)) // unless someone else just did
                on_expire(c);
        }
        ++cursor;
    }
    return cursor;
}

} // namespace lb::dataplane
