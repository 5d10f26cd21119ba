// The worker's own Neighbour Discovery (RFC 4861), its pure parts: the ICMPv6 checksum, the
// validation of received Neighbour Solicitations and Advertisements (7.1.1, 7.1.2) and the
// advertisement that answers a solicitation, built in place. The worker answers ND only for
// what the kernel behind the tap does not hold (VIPs, VRRP addresses) and learns next hops
// from it; node addresses are the kernel's (docs/ipv6-plan.md, step 4 and section 3.3).
#pragma once

#include <cstdint>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "dataplane/packet_parser.hpp"

namespace lb::dataplane {

constexpr std::uint8_t icmp6_neighbour_solicitation = 135;
constexpr std::uint8_t icmp6_neighbour_advertisement = 136;
constexpr std::uint8_t nd_option_source_link_layer = 1;
constexpr std::uint8_t nd_option_target_link_layer = 2;

// Type, code, checksum, flags or reserved (4 bytes), target: what both messages carry before
// their options.
constexpr std::uint32_t nd_message_length = 24;
// One link-layer address option for Ethernet (RFC 4861 4.6.1, RFC 2464 8): type, length 1
// (8 bytes), the MAC.
constexpr std::uint32_t nd_link_layer_option_length = 8;

// The upper-layer checksum of RFC 8200 8.1 over `length` bytes of ICMPv6 at `icmp`: the
// pseudo-header holds the message's length and next header 58, not the payload length and
// first next header, so it is right behind extension headers (rte_ipv6_udptcp_cksum is not).
// With the checksum field zeroed, the value to store; over a received message, 0 when its
// checksum is right.
std::uint16_t icmp6_checksum(const rte_ipv6_hdr* ip, const std::uint8_t* icmp,
                             std::uint32_t length) noexcept;

inline bool icmp6_checksum_ok(const rte_ipv6_hdr* ip, const std::uint8_t* icmp,
                              std::uint32_t length) noexcept {
    return icmp6_checksum(ip, icmp, length) == 0;
}

// ff02::1:ffXX:XXXX (RFC 4291 2.7.1), where a solicitation for an address is sent.
bool is_solicited_node_multicast(const std::uint8_t* address) noexcept;

// A validated Neighbour Solicitation; the pointers are into the frame.
struct NeighbourSolicitation {
    const std::uint8_t* target = nullptr;            // 16 bytes
    const std::uint8_t* source_link_layer = nullptr; // 6 bytes; nullptr when absent
    bool duplicate_address_detection = false;        // source is ::
};

// A validated Neighbour Advertisement; the pointers are into the frame.
struct NeighbourAdvertisement {
    const std::uint8_t* target = nullptr;            // 16 bytes
    const std::uint8_t* target_link_layer = nullptr; // 6 bytes; nullptr when absent
    bool router = false;
    bool solicited = false;
    bool override = false;
};

// True when `f` (an icmp6 frame parsed from `m`) is a Neighbour Solicitation RFC 4861 7.1.1
// accepts: hop limit 255 (it was not routed), code 0, checksum right, at least 24 bytes, a
// target that is not multicast, options of non-zero length inside the message, and a source of
// :: only towards a solicited-node group and without a source link-layer address option. Also
// refused: a multicast source (RFC 4291 2.7: never a source; the answer would go to a group),
// a link-layer option that is not Ethernet's 8 bytes, a message not wholly in the first segment.
bool parse_neighbour_solicitation(const rte_mbuf* m, const ParsedFrame& f,
                                  NeighbourSolicitation& out) noexcept;

// As parse_neighbour_solicitation for an advertisement (7.1.2): hop limit 255, code 0, checksum,
// at least 24 bytes, target not multicast, options valid, and S=0 when sent to a multicast group.
bool parse_neighbour_advertisement(const rte_mbuf* m, const ParsedFrame& f,
                                   NeighbourAdvertisement& out) noexcept;

// Turns the solicitation `ns` (parsed from `f`, in `m`) into the advertisement from `mac` for
// its target, in the same mbuf. The reply is rebuilt from the fixed IPv6 header whatever the
// solicitation carried (extension headers, options, padding): Ethernet, IPv6 (40), NA (24) and
// one target link-layer address option (8), 86 bytes. Docs/ipv6-plan.md section 3.3's table:
//
//   case                      | reply to (IP / MAC)                         | S | O | R
//   NS for a VIP, node        | NS source / its SLLA, else the frame's      | 1 | 1 | router
//   address or VRRP (master)  |   source MAC                                |   |   |
//   DAD NS (source ::)        | ff02::1 / 33:33:00:00:00:01                 | 0 | 1 | router
//
// with the TLLA and the Ethernet source both `mac` (the port's, or the virtual MAC for a VRRP
// address), IPv6 source the target, hop limit 255. Which solicitations to answer (ours, VRRP
// master only, a DAD probe not reflected from one of our MACs) is the caller's: the table's
// silent rows are not built here. False, the frame untouched, when the mbuf cannot hold the
// reply in one segment: the solicitor asks again.
[[nodiscard]] bool make_neighbour_advertisement(rte_mbuf* m, const ParsedFrame& f,
                                                const NeighbourSolicitation& ns,
                                                const rte_ether_addr& mac, bool router) noexcept;

} // namespace lb::dataplane
