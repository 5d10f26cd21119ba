// VRRP on Ethernet: the frames the control thread hands to worker 0 (advertisements and
// gratuitous ARPs) and the IPv4 view of a received advertisement. Bytes only, no DPDK, so that
// they are tested without ports. Addresses in host order.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "modules/vrrp/packet.hpp"

namespace lb::control::vrrp {

using Mac = std::array<std::uint8_t, 6>;

constexpr Mac broadcast_mac{0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr Mac multicast_mac{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12}; // of 224.0.0.18

// RFC 5798 section 7.3.
constexpr Mac virtual_mac(std::uint8_t vrid) {
    return {0x00, 0x00, 0x5e, 0x00, 0x01, vrid};
}

// An advertisement in an IPv4 packet with TTL 255, in an Ethernet frame.
std::vector<std::uint8_t> advert_frame(const Message& m, const Mac& source_mac,
                                       const Mac& destination_mac, std::uint32_t source,
                                       std::uint32_t destination);

// A gratuitous ARP request for `address` from `mac`: sender and target address are both
// `address`, broadcast, so that every neighbour's cache points at `mac`.
std::vector<std::uint8_t> gratuitous_arp_frame(const Mac& mac, std::uint32_t address);

struct ReceivedPacket {
    std::uint32_t source = 0;
    std::uint32_t destination = 0;
    std::uint8_t ttl = 0;
    const std::uint8_t* payload = nullptr; // the VRRP message
    std::size_t length = 0;
};

// The IPv4 packet of a frame the dataplane classified as protocol 112 (its IPv4 header is
// already validated there); nullopt when the frame is too short for what it claims.
std::optional<ReceivedPacket> received_packet(const std::uint8_t* frame, std::size_t length);

} // namespace lb::control::vrrp
