// All connections of the node, one table shared by every worker and the control thread: a NAT
// reply is found whichever queue it lands on (it usually lands on another one than the
// request), and replicated sessions are simply inserted, with no redirect ring between cores.
// Lookups take no lock (flow_table.hpp); inserts and removals are serialised by the flow
// table's writer lock, so only new connections and expiry ever contend, never established
// traffic. A connection has one key for packets from the client and, in NAT, a second for the
// real server's replies; both map to the same 64-byte entry, which is written completely before
// its keys become visible, and recycled only after an RCU grace period (index_pool.hpp).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

#include "dataplane/connection.hpp"
#include "dataplane/flow_table.hpp"
#include "dataplane/index_pool.hpp"

namespace lb::dataplane {

enum class KeyDirection : std::uint32_t { from_client = 0, from_real_server = 1 };

struct ConnectionHit {
    std::uint32_t index;
    KeyDirection direction;
};

enum class InsertResult {
    inserted,
    table_full,
    reply_tuple_in_use, // NAT: another connection already maps to this real-server tuple
    already_exists,     // another worker created this flow a moment ago
};

class ConnectionTable {
  public:
    // `with_reply_keys`: size the hash for a second key per connection (any NAT service).
    ConnectionTable(std::uint32_t capacity, bool with_reply_keys, rte_rcu_qsbr* rcu, int socket,
                    const char* name = "conn");
    ~ConnectionTable();

    std::uint32_t capacity() const { return indices_.capacity(); }
    Connection& at(std::uint32_t index) { return entries_[index]; }
    const Connection& at(std::uint32_t index) const { return entries_[index]; }
    std::uint32_t index_of(const Connection& c) const {
        return static_cast<std::uint32_t>(&c - entries_);
    }

    std::optional<ConnectionHit> lookup(const FlowKey& key) const;
    // Up to 64 keys; returns the hit mask and fills hits[i] for each hit.
    std::uint64_t lookup_bulk(const FlowKey** keys, std::uint32_t n, ConnectionHit* hits) const;

    // Creating a connection in two steps lets a worker overlap the cache misses of several new
    // connections: reserve an entry and prefetch what inserting it will touch (the entry line,
    // the reply key's bucket), then insert. An entry is complete before its keys become visible
    // to other workers.
    std::optional<std::uint32_t> reserve() { return indices_.allocate(); }
    void prefetch_for_insert(std::uint32_t index, const ConnectionSpec& spec) const {
        __builtin_prefetch(&entries_[index], 1, 3); // for writing
        if (spec.flags & conn_nat)
            flows_.prefetch(spec.reply_key());
    }
    // Publishes `spec` in the reserved entry `index`; on failure the reservation is released.
    InsertResult insert_reserved(std::uint32_t index, const ConnectionSpec& spec, TcpState state,
                                 std::uint32_t now, std::uint32_t timeout);
    // reserve() and insert_reserved() in one.
    InsertResult insert(const ConnectionSpec& spec, TcpState state, std::uint32_t now,
                        std::uint32_t timeout, std::uint32_t* index_out = nullptr);

    // Removes the connection's keys and retires the entry (after the RCU grace period). Any
    // thread; true for the one caller that removed it, false if it was already gone. The
    // entry's fields stay readable until the grace period ends.
    bool remove(std::uint32_t index);
    std::size_t reclaim() { return indices_.reclaim(); }
    std::size_t size() const { return live_.load(std::memory_order_relaxed); }

    // Visits up to `budget` entries starting at `cursor`, calling `expire` on each live one that
    // is past its timeout (and removing it after). Returns the next cursor.
    std::uint32_t collect(std::uint32_t cursor, std::uint32_t budget, std::uint32_t now,
                          const std::function<void(const Connection&)>& on_expire);

  private:
    // How the flow table sees our entries: where they are, and whether one holds a key.
    struct Entries {
        const Connection* base;
        const void* address(std::uint32_t index) const { return base + index; }
        bool matches(std::uint32_t index, std::uint8_t tag, const FlowKey& key) const {
            const Connection& c = base[index];
            return tag == 0 ? c.key == key : c.reply_key() == key;
        }
    };
    Entries entries() const { return Entries{entries_}; }

    Connection* entries_ = nullptr;
    IndexPool indices_;
    FlowTable flows_;
    std::atomic<std::size_t> live_{0};
};

} // namespace lb::dataplane
