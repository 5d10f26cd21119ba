// The 5-tuple that identifies a connection in one direction, exactly as it appears in a packet
// (addresses and ports in network order): FlowKey for IPv4, padded to the 16 bytes rte_hash
// compares fastest, and FlowKey6 for IPv6.
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

// The IPv6 5-tuple, as it appears in the packet like FlowKey's. 40 bytes, five 8-byte words: the
// IPv6 connection table (docs/ipv6-plan.md, section 1) hashes and compares it word by word, and
// its 64-byte entry holds it with 24 bytes to spare.
struct alignas(8) FlowKey6 {
    std::uint8_t src[16] = {};
    std::uint8_t dst[16] = {};
    std::uint16_t src_port = 0;
    std::uint16_t dst_port = 0;
    std::uint8_t protocol = 0;
    std::uint8_t padding[3] = {0, 0, 0};

    // Five word compares folded into one branch, where a 40-byte memcmp may stay a call.
    bool operator==(const FlowKey6& o) const {
        std::uint64_t a[5];
        std::uint64_t b[5];
        std::memcpy(a, this, sizeof(a));
        std::memcpy(b, &o, sizeof(b));
        return ((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]) | (a[4] ^ b[4])) == 0;
    }
};

static_assert(sizeof(FlowKey6) == 40);
static_assert(alignof(FlowKey6) == 8);

} // namespace lb::dataplane
