#include "dataplane/neighbour_table.hpp"

#include <stdexcept>

namespace lb::dataplane {

std::uint32_t NeighbourTable::intern(std::uint32_t address, std::uint8_t interface) {
    const std::uint32_t n = size();
    for (std::uint32_t i = 0; i < n; ++i)
        if (entries_[i].address == address && entries_[i].interface == interface)
            return i;
    if (n == max_entries)
        throw std::runtime_error("too many next hops (real servers and gateways)");
    entries_[n].address = address;
    entries_[n].interface = interface;
    count_.store(n + 1, std::memory_order_release);
    return n;
}

void NeighbourTable::learn(std::uint32_t address, std::uint8_t interface, const rte_ether_addr& mac,
                           std::uint32_t now) {
    std::uint64_t bits = resolved_bit;
    for (int i = 0; i < 6; ++i)
        bits |= std::uint64_t{mac.addr_bytes[i]} << (8 * i);
    const std::uint32_t n = size();
    for (std::uint32_t i = 0; i < n; ++i) {
        Neighbour& e = entries_[i];
        if (e.address != address || e.interface != interface)
            continue;
        if (e.mac_bits.load(std::memory_order_relaxed) != bits)
            e.mac_bits.store(bits, std::memory_order_relaxed);
        e.updated_ms.store(now, std::memory_order_relaxed);
    }
}

} // namespace lb::dataplane
