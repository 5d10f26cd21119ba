// Picks a real server for a new connection. Round-robin cursors are per worker (no shared
// writes); least-connection reads per-server connection counts that are updated only when
// connections are created or expire, never per packet.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "dataplane/counters.hpp"
#include "dataplane/flow_key.hpp"
#include "dataplane/snapshot.hpp"

namespace lb::dataplane {

// Live connections per real server (global index), for lc/wlc.
class RealServerLoad {
  public:
    // audit: allow (constructed once at start-up, on the control side)
    RealServerLoad() : counts_(std::make_unique<std::atomic<std::int32_t>[]>(max_real_servers)) {}
    void add(std::uint16_t rs, std::int32_t delta) {
        counts_[rs].fetch_add(delta, std::memory_order_relaxed);
    }
    std::int32_t get(std::uint16_t rs) const { return counts_[rs].load(std::memory_order_relaxed); }

  private:
    std::unique_ptr<std::atomic<std::int32_t>[]> counts_;
};

// One worker's round-robin positions, reset when a new snapshot arrives.
struct SchedulerCursors {
    struct Cursor {
        std::int32_t index = -1;
        std::int64_t current_weight = 0;
    };
    std::array<Cursor, max_services> cursors{};
    void reset() { cursors.fill(Cursor{}); }
};

constexpr int no_real_server = -1;

// Returns the global real-server index or no_real_server.
int schedule(const Snapshot& snapshot, std::uint16_t service, const FlowKey& key,
             SchedulerCursors& cursors, const RealServerLoad& load);

// The hash that selects a Maglev slot: source address for sh, source address and port for mh.
std::uint32_t maglev_hash(SchedulerKind kind, const FlowKey& key);

} // namespace lb::dataplane
