// Answers the node gives in place: ARP replies for node addresses and VIPs, ICMP echo replies.
// Each turns the received frame into the reply without copying.
#pragma once

#include <cstdint>

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

namespace lb::dataplane {

// Turns an ARP request for `target` (ours) into the reply from `our_mac`.
void make_arp_reply(rte_ether_hdr* eth, rte_arp_hdr* arp, const rte_ether_addr& our_mac);

// Turns an echo request into the echo reply from `our_mac`.
void make_icmp_echo_reply(rte_ether_hdr* eth, rte_ipv4_hdr* ip, std::uint8_t* icmp,
                          const rte_ether_addr& our_mac);

bool is_icmp_echo_request(const std::uint8_t* icmp);

// Turns a TCP segment into the RST its sender must accept: from its destination back to it,
// with the sequence number it acknowledged, no payload.
void make_tcp_reset(rte_mbuf* m, rte_ether_hdr* eth, rte_ipv4_hdr* ip, std::uint8_t* tcp,
                    const rte_ether_addr& our_mac);

} // namespace lb::dataplane
