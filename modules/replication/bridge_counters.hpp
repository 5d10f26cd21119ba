// What the SessionBridge did with the entries a peer sent, in a header of its own so that the
// DPDK-free core of the replication driver (modules/replication/node_replication.hpp) can count
// them per peer without seeing the dataplane's tables.
#pragma once

#include <cstdint>

namespace lb::control::replication {

struct BridgeCounters {
    std::uint64_t applied = 0;
    std::uint64_t unbound = 0; // the peer's service, real server or interface is not ours
    std::uint64_t refused = 0; // a table was full, or the entry was invalid
    std::uint64_t deleted = 0; // connections removed at the peer's word
    // Entries older than the copy this node holds (last seen earlier): kept ours.
    std::uint64_t superseded = 0;
    // Deletions of a flow this node saw later than the peer did (a copy that expired on a
    // partitioned peer): refused, ours kept.
    std::uint64_t deletions_refused = 0;
};

} // namespace lb::control::replication
