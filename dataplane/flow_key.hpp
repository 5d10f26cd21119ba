// The 5-tuple that identifies a connection in one direction, exactly as it appears in a packet
// (addresses and ports in network order), padded to the 16 bytes rte_hash compares fastest.
#pragma once

#include <cstdint>
#include <cstring>

namespace lb::dataplane {

// Aligned to 8: rte_hash_crc reads keys as 64-bit words, and a key at a 4-byte boundary (inside
// a parsed frame or a connection entry) is undefined behaviour (UBSan: misaligned load).
struct alignas(8) FlowKey {
    std::uint32_t src_ip = 0;
    std::uint32_t dst_ip = 0;
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint8_t protocol = 0;
    std::uint8_t padding[3] = {0, 0, 0};

    bool operator==(const FlowKey& o) const { return std::memcmp(this, &o, sizeof(*this)) == 0; }

    FlowKey reversed() const {
        FlowKey k;
        k.src_ip = dst_ip;
        k.dst_ip = src_ip;
        k.src_port = dst_port;
        k.dst_port = src_port;
        k.protocol = protocol;
        return k;
    }
};

static_assert(sizeof(FlowKey) == 16);
static_assert(alignof(FlowKey) == 8);

} // namespace lb::dataplane
