// Finds the service of (VIP, protocol, destination port) with one hash probe sequence: port
// ranges are expanded into one entry per port when the snapshot is built, so port-range groups
// cost the same per packet as single ports. Also answers "is this address a VIP?" for ARP and
// ICMP. Built on the control side, read-only afterwards.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace lb::dataplane {

class ServiceIndex {
  public:
    // Port 0 with protocol 0 marks the VIP itself.
    void add(std::uint32_t vip, std::uint8_t protocol, std::uint16_t port, std::uint16_t service);
    void add_vip(std::uint32_t vip) { add(vip, 0, 0, 0); }
    void build(); // call once after the last add

    // Arguments in network order. Returns the service index or -1.
    int find(std::uint32_t vip, std::uint8_t protocol, std::uint16_t port) const {
        const std::uint64_t key = make_key(vip, protocol, port);
        for (std::uint32_t slot = hash(key) & mask_;; slot = (slot + 1) & mask_) {
            const Slot& s = slots_[slot];
            if (s.key == key)
                return s.service;
            if (s.key == empty_key)
                return -1;
        }
    }
    bool is_vip(std::uint32_t address) const { return find(address, 0, 0) >= 0; }

  private:
    struct Slot {
        std::uint64_t key;
        std::int32_t service;
    };
    static constexpr std::uint64_t empty_key = ~std::uint64_t{0};
    static std::uint64_t make_key(std::uint32_t vip, std::uint8_t protocol, std::uint16_t port) {
        return (std::uint64_t{vip} << 32) | (std::uint64_t{protocol} << 16) | port;
    }
    static std::uint32_t hash(std::uint64_t key) {
        key *= 0x9e3779b97f4a7c15ull;
        return static_cast<std::uint32_t>(key >> 32);
    }

    std::vector<Slot> pending_;
    std::vector<Slot> slots_ = std::vector<Slot>(1, Slot{empty_key, -1});
    std::uint32_t mask_ = 0;
};

} // namespace lb::dataplane
