// Maglev consistent hashing (Eisenbud et al., NSDI 2016) with weights: every backend walks its
// own permutation of the M slots and claims the next free one, `weight / gcd` slots per round,
// so each backend's share of the table is its share of the total weight.
//
// Availability overlay: the table is built over the configured backends (weight > 0); slots
// whose backend is currently unavailable (drained or down) are filled from a second table built
// over the available ones. Taking one of N backends out therefore moves exactly its own slots
// and no other, and two nodes with the same configuration and health view compute the same
// table, which is what lets a flow that missed replication land on the same real server after
// a failover.
#pragma once

#include <cstdint>
#include <vector>

namespace lb::dataplane {

struct MaglevBackend {
    std::uint64_t identity = 0; // stable across nodes: address and port
    std::uint32_t weight = 0;   // configured weight
    bool available = true;      // takes new connections now
};

constexpr std::uint16_t maglev_no_backend = 0xffff;

// Plain weighted Maglev over backends with weight > 0 (availability ignored).
std::vector<std::uint16_t> build_maglev_slots(const std::vector<MaglevBackend>& backends,
                                              std::uint32_t size);

// The table the dataplane uses: the plain table with unavailable backends' slots re-filled.
std::vector<std::uint16_t> build_maglev_table(const std::vector<MaglevBackend>& backends,
                                              std::uint32_t size);

std::uint64_t mix64(std::uint64_t x);

} // namespace lb::dataplane
