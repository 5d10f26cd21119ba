// Tunnel forwarding (`forwarding: tunnel`): the client's IPv4 packet travels to the real server
// inside an outer IPv4 header (IP in IP, RFC 2003, protocol 4), as LVS's TUN mode and Katran
// send it, so that real servers may sit on any routed subnet. Both functions work in place on
// the received mbuf: no allocation, no copy of the payload.
#pragma once

#include <cstdint>

#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

namespace lb::dataplane {

// What the outer header adds to every packet.
constexpr std::uint16_t ipip_overhead = sizeof(rte_ipv4_hdr);

// Puts an outer IPv4 header (source `outer_src`, destination `outer_dst`, network order; TTL
// 64; the inner header's TOS, identification and DF bit) between the Ethernet header and the
// inner IPv4 packet, which stays byte for byte as it came. The Ethernet header is rewritten
// from `src_mac` to `dst_mac`. False, with the frame unchanged, when the buffer has no
// headroom for the outer header.
bool encapsulate_ipip(rte_mbuf* m, std::uint32_t outer_src, std::uint32_t outer_dst,
                      const rte_ether_addr& src_mac, const rte_ether_addr& dst_mac);

// Turns a client's frame into the ICMP "fragmentation needed and DF set" error (type 3, code 4;
// RFC 792, with RFC 1191's next-hop MTU) that tells its sender to send packets of at most
// `next_hop_mtu` bytes: from the packet's destination (the VIP) back to its source, quoting its
// IPv4 header and the first 8 bytes of its payload, sent to the MAC it came from. `ip` is the
// frame's IPv4 header, already validated (the parser guarantees the header and 8 bytes of
// payload in the first segment). False when the frame is too short to hold the error in place.
bool make_icmp_frag_needed(rte_mbuf* m, rte_ipv4_hdr* ip, std::uint16_t next_hop_mtu,
                           const rte_ether_addr& our_mac);

} // namespace lb::dataplane
