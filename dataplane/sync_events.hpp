// What a worker tells the replication side: which entry of the shared tables changed (a
// connection created or moved to a new TCP state, a persistence template created or re-pointed,
// an FTP control connection's sequence shift). An event is the entry's index and kind in one
// 32-bit word on the worker's own single-producer ring; the control thread reads the entry
// itself when it drains the ring, so an event never carries a stale copy, and a full ring only
// delays an entry until the next refresh sweep sends it (counted: sync_events_lost). No
// allocation, no lock, no wait: the worker's cost is one ring slot per event.
#pragma once

#include <cstdint>

#include <rte_ring.h>

#include "dataplane/counters.hpp"

namespace lb::dataplane {

enum class SyncEventKind : std::uint32_t {
    connection = 0,           // ConnectionTable index (connections and FTP expectations)
    persistence_template = 1, // PersistenceTable index
    ftp_state = 2,            // the FTP control connection's ConnectionTable index
};

struct SyncEvent {
    static constexpr unsigned kind_shift = 30;
    static constexpr std::uint32_t index_mask = (std::uint32_t{1} << kind_shift) - 1;
    // Table capacities are far below 2^30 (tables: at most 2^27, control/config/loader.cpp).

    static std::uint32_t make(SyncEventKind kind, std::uint32_t index) {
        return (static_cast<std::uint32_t>(kind) << kind_shift) | (index & index_mask);
    }
    static SyncEventKind kind(std::uint32_t word) {
        return static_cast<SyncEventKind>(word >> kind_shift);
    }
    static std::uint32_t index(std::uint32_t word) { return word & index_mask; }
};

// The worker's end of its ring; inert (one predictable branch) without replication.
class SyncEventWriter {
  public:
    SyncEventWriter(rte_ring* ring, Counter& lost) : ring_(ring), lost_(lost) {}

    bool enabled() const { return ring_ != nullptr; }
    void connection(std::uint32_t index) { emit(SyncEventKind::connection, index); }
    void persistence_template(std::uint32_t index) {
        emit(SyncEventKind::persistence_template, index);
    }
    void ftp_state(std::uint32_t control_connection) {
        emit(SyncEventKind::ftp_state, control_connection);
    }

  private:
    void emit(SyncEventKind kind, std::uint32_t index) {
        if (!ring_)
            return;
        std::uint32_t word = SyncEvent::make(kind, index);
        if (rte_ring_sp_enqueue_elem(ring_, &word, sizeof(word)) != 0)
            lost_.add();
    }

    rte_ring* ring_;
    Counter& lost_;
};

} // namespace lb::dataplane
