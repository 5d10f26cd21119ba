#include "control/connection_reset.hpp"

#include <cstring>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_tcp.h>

#include "dataplane/tunnel.hpp"

namespace lb::control {

using namespace lb::dataplane;

namespace {

// A tunnel connection's real server gets its RST as it gets the client's packets: inside an
// outer IPv4 header from the egress interface's address to its own.
struct Tunnel {
    std::uint32_t source = 0; // network order; 0: no tunnel
    std::uint32_t destination = 0;
};

// A bare RST frame; addresses and ports in network order.
void send_rst(DataplaneContext& ctx, rte_mempool* pool, std::uint8_t interface,
              const rte_ether_addr& src_mac, const rte_ether_addr& dst_mac, std::uint32_t src_ip,
              std::uint32_t dst_ip, std::uint16_t src_port, std::uint16_t dst_port,
              std::uint32_t seq, Tunnel tunnel = {}) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m)
        return;
    constexpr std::uint16_t length =
        sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, 60));
    std::memset(eth, 0, 60);
    eth->dst_addr = dst_mac;
    eth->src_addr = src_mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(length - sizeof(rte_ether_hdr));
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_TCP;
    ip->src_addr = src_ip;
    ip->dst_addr = dst_ip;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
    tcp->src_port = src_port;
    tcp->dst_port = dst_port;
    tcp->sent_seq = rte_cpu_to_be_32(seq);
    tcp->data_off = 0x50;
    tcp->tcp_flags = RTE_TCP_RST_FLAG;
    tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
    if (tunnel.source != 0 &&
        !encapsulate_ipip(m, tunnel.source, tunnel.destination, src_mac, dst_mac)) {
        rte_pktmbuf_free(m);
        return;
    }
    m->port = interface;
    if (rte_ring_enqueue(ctx.control_tx, m) != 0)
        rte_pktmbuf_free(m);
}

} // namespace

std::size_t reset_connections_of(DataplaneContext& ctx, rte_mempool* pool,
                                 std::uint16_t real_server) {
    const Snapshot& s = *ctx.snapshot.load(std::memory_order_acquire);
    if (real_server >= s.real_servers.size())
        return 0;
    const RealServerEntry& rs = s.real_servers[real_server];
    rte_ether_addr rs_mac;
    const bool rs_known = ctx.neighbours->resolve(rs.neighbour, rs_mac);
    ConnectionTable& table = *ctx.connections;
    std::size_t count = 0;
    for (std::uint32_t i = 0; i < table.capacity(); ++i) {
        Connection& c = table.at(i);
        if (!c.live.load(std::memory_order_acquire) || c.real_server != real_server ||
            (c.flags & conn_expectation))
            continue;
        if (c.key.protocol == IPPROTO_TCP) {
            rte_ether_addr client_mac;
            std::memcpy(client_mac.addr_bytes, c.client_mac, 6);
            const InterfaceEntry& in = s.interfaces[c.ingress];
            // To the client, from the VIP: at the sequence number it expects.
            send_rst(ctx, pool, c.ingress, in.mac, client_mac, c.key.dst_ip, c.key.src_ip,
                     c.key.dst_port, c.key.src_port, c.client_ack.load(std::memory_order_relaxed));
            // To the real server, as from the client (through NAT, to its own address).
            const InterfaceEntry& out = s.interfaces[rs.egress];
            const Tunnel tunnel =
                (c.flags & conn_tunnel) ? Tunnel{out.address, rs.address} : Tunnel{};
            if (rs_known)
                send_rst(ctx, pool, rs.egress, out.mac, rs_mac, c.key.src_ip,
                         (c.flags & conn_nat) ? c.rs_address : c.key.dst_ip, c.key.src_port,
                         (c.flags & conn_nat) ? c.rs_port : c.key.dst_port,
                         c.client_next_seq.load(std::memory_order_relaxed), tunnel);
        }
        if (!table.remove(i))
            continue;
        ctx.load->add(c.real_server, -1);
        if (c.template_index != no_template)
            ctx.templates->detach(c.template_index);
        ++count;
    }
    return count;
}

} // namespace lb::control
