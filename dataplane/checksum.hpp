// Incremental Internet checksum updates (RFC 1624, eqn. 3) for rewriting addresses and ports
// without touching the payload. Values are taken exactly as stored in the packet (network
// order): one's-complement sums do not depend on byte order as long as every word is read the
// same way.
#pragma once

#include <cstdint>

namespace lb::dataplane {

inline std::uint16_t checksum_fold(std::uint32_t sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

// HC' = ~(~HC + ~m + m')
inline std::uint16_t checksum_replace16(std::uint16_t check, std::uint16_t old_value,
                                        std::uint16_t new_value) {
    std::uint32_t sum = static_cast<std::uint16_t>(~check);
    sum += static_cast<std::uint16_t>(~old_value);
    sum += new_value;
    return static_cast<std::uint16_t>(~checksum_fold(sum));
}

inline std::uint16_t checksum_replace32(std::uint16_t check, std::uint32_t old_value,
                                        std::uint32_t new_value) {
    std::uint32_t sum = static_cast<std::uint16_t>(~check);
    sum += static_cast<std::uint16_t>(~old_value & 0xffff);
    sum += static_cast<std::uint16_t>((~old_value >> 16) & 0xffff);
    sum += new_value & 0xffff;
    sum += new_value >> 16;
    return static_cast<std::uint16_t>(~checksum_fold(sum));
}

} // namespace lb::dataplane
