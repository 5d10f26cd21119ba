#include "control/neighbour_resolver.hpp"

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/clock.hpp"

namespace lb::control {

using namespace lb::dataplane;

void NeighbourResolver::send_request(const Snapshot& s, const Neighbour& n) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (!m)
        return;
    const InterfaceEntry& iface = s.interfaces[n.interface];
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    std::memset(eth->dst_addr.addr_bytes, 0xff, RTE_ETHER_ADDR_LEN);
    eth->src_addr = iface.mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = RTE_ETHER_ADDR_LEN;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
    arp->arp_data.arp_sha = iface.mac;
    arp->arp_data.arp_sip = iface.address;
    std::memset(arp->arp_data.arp_tha.addr_bytes, 0, RTE_ETHER_ADDR_LEN);
    arp->arp_data.arp_tip = n.address;
    constexpr std::uint16_t length = RTE_ETHER_MIN_LEN - RTE_ETHER_CRC_LEN; // padded to 60
    std::memset(reinterpret_cast<std::uint8_t*>(arp + 1), 0,
                length - sizeof(rte_ether_hdr) - sizeof(rte_arp_hdr));
    m->data_len = length;
    m->pkt_len = length;
    m->port = n.interface;
    if (rte_ring_enqueue(ctx_.control_tx, m) != 0)
        rte_pktmbuf_free(m);
}

void NeighbourResolver::tick(std::uint32_t now) {
    const Snapshot* s = ctx_.snapshot.load(std::memory_order_acquire);
    const std::uint32_t count = ctx_.neighbours->size();
    for (std::uint32_t i = 0; i < count; ++i) {
        const Neighbour& n = ctx_.neighbours->at(i);
        const bool resolved =
            n.mac_bits.load(std::memory_order_relaxed) & NeighbourTable::resolved_bit;
        // A resolved neighbour that stopped answering is refreshed every interval; if it
        // moved, its next ARP (or our next request's reply) updates the MAC.
        const std::uint32_t interval = resolved ? refresh_interval_ms : unresolved_interval_ms;
        if (ever_sent_[i] && !expired(now, last_sent_[i], interval))
            continue;
        send_request(*s, n);
        last_sent_[i] = now;
        ever_sent_[i] = true;
    }
}

} // namespace lb::control
