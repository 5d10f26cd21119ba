#include "dataplane/service_index.hpp"

#include <bit>

namespace lb::dataplane {

void ServiceIndex::add(std::uint32_t vip, std::uint8_t protocol, std::uint16_t port,
                       std::uint16_t service) {
    pending_.push_back({make_key(vip, protocol, port), service});
}

void ServiceIndex::build() {
    // Load factor at most 1/2 keeps probe sequences short.
    const std::size_t size = std::bit_ceil(std::max<std::size_t>(16, pending_.size() * 2));
    slots_.assign(size, Slot{empty_key, -1});
    mask_ = static_cast<std::uint32_t>(size - 1);
    for (const Slot& entry : pending_) {
        for (std::uint32_t slot = hash(entry.key) & mask_;; slot = (slot + 1) & mask_) {
            if (slots_[slot].key == empty_key || slots_[slot].key == entry.key) {
                slots_[slot] = entry;
                break;
            }
        }
    }
}

} // namespace lb::dataplane
