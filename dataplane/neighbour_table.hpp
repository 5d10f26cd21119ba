// MAC addresses of the next hops the node sends to: real servers and gateways. The set is fixed
// by the configuration; the control thread sends ARP requests for every entry, and workers
// learn answers (and any ARP from a known next hop) by storing the MAC atomically, so a MAC
// change takes effect on the next packet without a new snapshot.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

#include <rte_byteorder.h>
#include <rte_ether.h>

namespace lb::dataplane {

struct Neighbour {
    std::uint32_t address = 0; // network order
    std::uint8_t interface = 0;
    std::atomic<std::uint64_t> mac_bits{0}; // bit 63: resolved
    std::atomic<std::uint32_t> updated_ms{0};
};

class NeighbourTable {
  public:
    static constexpr std::uint32_t max_entries = 4096;
    static constexpr std::uint64_t resolved_bit = std::uint64_t{1} << 63;

    NeighbourTable() : entries_(std::make_unique<Neighbour[]>(max_entries)) {}

    // Control side: the index for (address, interface), adding it if new.
    std::uint32_t intern(std::uint32_t address, std::uint8_t interface);
    std::uint32_t size() const { return count_.load(std::memory_order_acquire); }
    const Neighbour& at(std::uint32_t i) const { return entries_[i]; }

    bool resolve(std::uint32_t index, rte_ether_addr& mac) const {
        const std::uint64_t bits = entries_[index].mac_bits.load(std::memory_order_relaxed);
        if (!(bits & resolved_bit))
            return false;
            // The low six bytes of the word are the MAC in order (little-endian): one 4-byte and
            // one 2-byte store. A loop of byte stores here, read back as wider words when the
            // caller copies the MAC into the frame, stalled store forwarding: 28% of the
            // established path's time in forward_to_real_server (docs/design.md, "Profile").
#if RTE_BYTE_ORDER == RTE_LITTLE_ENDIAN
        std::memcpy(mac.addr_bytes, &bits, 6);
#else
        for (int i = 0; i < 6; ++i)
            mac.addr_bytes[i] = static_cast<std::uint8_t>(bits >> (8 * i));
#endif
        return true;
    }

    // Worker side, on any ARP packet: records the sender's MAC if it is one of ours.
    void learn(std::uint32_t address, std::uint8_t interface, const rte_ether_addr& mac,
               std::uint32_t now);

  private:
    std::unique_ptr<Neighbour[]> entries_;
    std::atomic<std::uint32_t> count_{0};
};

} // namespace lb::dataplane
