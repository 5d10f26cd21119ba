// Tunnel forwarding on real mbufs: the exact bytes of the IPIP frame (outer header fields and
// checksum, inner packet untouched, MACs), a real server behind the gateway, and what happens to
// a packet too big for the tunnel (ICMP fragmentation needed with DF, a counted drop without).
// Expected frames are built here byte by byte, with a checksum of the test's own, so that a
// mistake shared by the worker and DPDK's helpers cannot hide.
#include <catch2/catch.hpp>

#include <rte_ring.h>

#include "control/connection_reset.hpp"
#include "test/packet/worker_harness.hpp"

using namespace lb::test;
using lb::dataplane::DropReason;

namespace {

constexpr std::uint32_t vip = ipv4(198, 51, 100, 100);
constexpr std::uint32_t far_vip = ipv4(198, 51, 100, 101);
constexpr std::uint32_t client = ipv4(198, 51, 100, 10);
constexpr std::uint32_t node_int = ipv4(203, 0, 113, 1);
constexpr std::uint32_t rs1 = ipv4(203, 0, 113, 11);
constexpr std::uint32_t gateway = ipv4(203, 0, 113, 254);
constexpr std::uint32_t far_rs = ipv4(192, 0, 2, 50);
constexpr Mac gateway_mac{{0x02, 0x9a, 0, 0, 0, 0xfe}};

// `int` carries at most 1400-byte packets: 1380 bytes of inner packet.
std::string config(const std::string& vrrp = "", const std::string& web_extra = "") {
    return R"(node: {name: test}
interfaces:
  - {name: ext, device: d0, address: 198.51.100.2/24}
  - {name: int, device: d1, address: 203.0.113.1/24, gateway: 203.0.113.254, mtu: 1400}
services:
  - name: web
    vip: 198.51.100.100
    port: 80
    forwarding: tunnel
)" + web_extra +
           R"(    real_servers:
      - {address: 203.0.113.11}
  - name: far
    vip: 198.51.100.101
    protocol: udp
    port: 53
    forwarding: tunnel
    real_servers:
      - {address: 192.0.2.50}
)" + vrrp;
}

void put16(Bytes& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}

void put32(Bytes& b, std::uint32_t v) {
    put16(b, static_cast<std::uint16_t>(v >> 16));
    put16(b, static_cast<std::uint16_t>(v));
}

void put_mac(Bytes& b, const Mac& m) {
    b.insert(b.end(), m.b, m.b + 6);
}

// RFC 1071, on big-endian 16-bit words.
std::uint16_t internet_checksum(const std::uint8_t* p, std::size_t n) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2)
        sum += static_cast<std::uint32_t>(p[n - 1] << 8);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

// Writes the checksum of the 20-byte IPv4 header starting at `at` into it.
void fill_ip_checksum(Bytes& b, std::size_t at) {
    const std::uint16_t sum = internet_checksum(b.data() + at, 20);
    b[at + 10] = static_cast<std::uint8_t>(sum >> 8);
    b[at + 11] = static_cast<std::uint8_t>(sum);
}

// A client's packet of `ip_length` bytes (IPv4 total length) to `dst`, DF set or not.
Bytes client_packet(std::uint32_t dst, std::uint8_t protocol, std::size_t ip_length, bool df,
                    std::uint16_t sport = 40000) {
    L4 p;
    p.protocol = protocol;
    p.src = client;
    p.dst = dst;
    p.sport = sport;
    p.dport = protocol == IPPROTO_TCP ? 80 : 53;
    p.tcp_flags = RTE_TCP_SYN_FLAG;
    p.payload = ip_length - 20 - (protocol == IPPROTO_TCP ? 20 : 8);
    Bytes f = ipv4_frame(p);
    rte_ipv4_hdr* ip = ip_of(f);
    ip->type_of_service = 0x28;
    ip->fragment_offset = rte_cpu_to_be_16(df ? RTE_IPV4_HDR_DF_FLAG : 0);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    return f;
}

// What the worker must send for `in`: outer header from `src` to `dst`, inner bytes as they came.
Bytes expected_ipip(const Bytes& in, const Mac& dst_mac, const Mac& src_mac, std::uint32_t src,
                    std::uint32_t dst) {
    const std::uint16_t inner_length = static_cast<std::uint16_t>(in[16] << 8 | in[17]);
    Bytes e;
    put_mac(e, dst_mac);
    put_mac(e, src_mac);
    put16(e, 0x0800);
    e.push_back(0x45);
    e.push_back(in[15]); // TOS copied
    put16(e, static_cast<std::uint16_t>(inner_length + 20));
    e.insert(e.end(), in.begin() + 18, in.begin() + 20);                   // identification copied
    put16(e, static_cast<std::uint16_t>((in[20] << 8 | in[21]) & 0x4000)); // DF copied
    e.push_back(64);                                                       // TTL
    e.push_back(4);                                                        // IPIP
    put16(e, 0);
    put32(e, src);
    put32(e, dst);
    fill_ip_checksum(e, 14);
    e.insert(e.end(), in.begin() + 14, in.end());
    return e;
}

} // namespace

TEST_CASE("tunnel: the client's packet goes to the real server inside an exact IPIP header") {
    WorkerHarness h(config());
    h.resolve(rs1, rs1_mac, 1);
    for (const bool df : {true, false}) {
        CAPTURE(df);
        const Bytes in = client_packet(vip, IPPROTO_TCP, 200, df, df ? 40000 : 40001);
        auto out = h.send(in);
        REQUIRE(out.size() == 1);
        CHECK(out[0].interface == 1);
        const Bytes expected = expected_ipip(in, rs1_mac, port1_mac, node_int, rs1);
        CHECK(out[0].frame == expected);
        // The outer header sums to zero with its checksum, by DPDK's count too.
        CHECK(rte_ipv4_cksum(ip_of(out[0].frame)) == 0);
    }
    // The established flow's next segment takes the same way.
    L4 ack;
    ack.src = client;
    ack.dst = vip;
    ack.sport = 40000;
    ack.dport = 80;
    ack.tcp_flags = RTE_TCP_ACK_FLAG;
    ack.payload = 300;
    const Bytes in = ipv4_frame(ack);
    auto out = h.send(in);
    REQUIRE(out.size() == 1);
    CHECK(out[0].frame == expected_ipip(in, rs1_mac, port1_mac, node_int, rs1));
    CHECK(h.dataplane.connections().size() == 2);
    CHECK(h.total_drops() == 0);
}

TEST_CASE("tunnel: a real server on a routed subnet is reached through the gateway's MAC") {
    WorkerHarness h(config());
    const Bytes in = client_packet(far_vip, IPPROTO_UDP, 100, false);
    CHECK(h.send(in).empty()); // the gateway's MAC is not known yet
    CHECK(h.drops(DropReason::neighbour_unresolved) == 1);
    h.resolve(gateway, gateway_mac, 1);
    auto out = h.send(in);
    REQUIRE(out.size() == 1);
    CHECK(out[0].interface == 1);
    CHECK(out[0].frame == expected_ipip(in, gateway_mac, port1_mac, node_int, far_rs));
}

TEST_CASE("tunnel: a packet that fits the MTU only without the outer header, DF set, is "
          "answered with ICMP fragmentation needed from the VIP") {
    WorkerHarness h(config());
    h.resolve(rs1, rs1_mac, 1);
    // 1380 bytes + 20 = the MTU: it fits.
    REQUIRE(h.send(client_packet(vip, IPPROTO_TCP, 1380, true)).size() == 1);
    CHECK(h.drops(DropReason::too_big_for_tunnel) == 0);

    const Bytes in = client_packet(vip, IPPROTO_TCP, 1381, true);
    auto out = h.send(in);
    REQUIRE(out.size() == 1);
    CHECK(out[0].interface == 0); // back where the client is
    Bytes e;
    put_mac(e, client_mac);
    put_mac(e, port0_mac);
    put16(e, 0x0800);
    e.push_back(0x45);
    e.push_back(0);
    put16(e, 20 + 8 + 20 + 8);
    put16(e, 0);      // identification
    put16(e, 0);      // no DF, no fragment
    e.push_back(64);  // TTL
    e.push_back(1);   // ICMP
    put16(e, 0);      // checksum below
    put32(e, vip);    // from what the client talked to
    put32(e, client); // to the client
    fill_ip_checksum(e, 14);
    e.push_back(3); // destination unreachable
    e.push_back(4); // fragmentation needed and DF set
    put16(e, 0);    // checksum below
    put16(e, 0);    // unused
    put16(e, 1380); // next-hop MTU: the interface's 1400 less the outer header
    e.insert(e.end(), in.begin() + 14, in.begin() + 14 + 28); // its IPv4 header and 8 bytes
    const std::uint16_t sum = internet_checksum(e.data() + 34, e.size() - 34);
    e[36] = static_cast<std::uint8_t>(sum >> 8);
    e[37] = static_cast<std::uint8_t>(sum);
    CHECK(out[0].frame == e);
    CHECK(h.drops(DropReason::too_big_for_tunnel) == 1);
    CHECK(h.counters().icmp_frag_needed_sent.read() == 1);
    CHECK(h.drops(DropReason::too_big_for_tunnel_no_df) == 0);
}

TEST_CASE("tunnel: a packet too big for the tunnel without DF is dropped and counted") {
    WorkerHarness h(config());
    h.resolve(ipv4(203, 0, 113, 254), gateway_mac, 1);
    REQUIRE(h.send(client_packet(far_vip, IPPROTO_UDP, 1380, false)).size() == 1);
    CHECK(h.send(client_packet(far_vip, IPPROTO_UDP, 1381, false)).empty());
    CHECK(h.drops(DropReason::too_big_for_tunnel_no_df) == 1);
    CHECK(h.drops(DropReason::too_big_for_tunnel) == 0);
    CHECK(h.counters().icmp_frag_needed_sent.read() == 0);
    // The pool has every buffer back: the dropped frame was freed.
    CHECK(rte_mempool_avail_count(h.pool()) == 4095);
}

TEST_CASE("tunnel: the ICMP error for a VRRP-owned VIP comes from the virtual MAC") {
    WorkerHarness h(config(R"(vrrp:
  instances:
    - name: v
      interface: ext
      virtual_router_id: 51
      virtual_addresses: [198.51.100.100]
)"));
    h.resolve(rs1, rs1_mac, 1);
    h.context().vrrp_master[0].store(true);
    auto out = h.send(client_packet(vip, IPPROTO_TCP, 1500, true));
    REQUIRE(out.size() == 1);
    CHECK(Mac{{0x00, 0x00, 0x5e, 0x00, 0x01, 51}} == eth_of(out[0].frame)->src_addr);
    CHECK(client_mac == eth_of(out[0].frame)->dst_addr);
}

TEST_CASE("tunnel: a frame without headroom for the outer header is dropped and counted") {
    WorkerHarness h(config());
    h.resolve(rs1, rs1_mac, 1);
    // A device that leaves less headroom than an IPv4 header: the harness's mbufs have the
    // default, so take it away by moving the data's start back.
    h.before_process = [](rte_mbuf* m) {
        const std::uint16_t length = rte_pktmbuf_data_len(m);
        char* old = rte_pktmbuf_mtod(m, char*);
        m->data_off = 10;
        std::memmove(rte_pktmbuf_mtod(m, char*), old, length);
    };
    CHECK(h.send(client_packet(vip, IPPROTO_TCP, 200, true)).empty());
    CHECK(h.drops(DropReason::no_headroom) == 1);
    CHECK(rte_mempool_avail_count(h.pool()) == 4095);
}

TEST_CASE("tunnel: on_failure: reset sends the real server its RST through the tunnel") {
    WorkerHarness h(config("", "    on_failure: reset\n"));
    h.resolve(rs1, rs1_mac, 1);
    REQUIRE(h.send(client_packet(vip, IPPROTO_TCP, 40, true)).size() == 1);
    const std::uint16_t server = h.snapshot->services[0].members[0];
    CHECK(lb::control::reset_connections_of(h.context(), h.pool(), server) == 1);
    rte_mbuf* frames[4];
    const unsigned n = rte_ring_dequeue_burst(h.context().control_tx,
                                              reinterpret_cast<void**>(frames), 4, nullptr);
    REQUIRE(n == 2);
    std::vector<Bytes> sent;
    for (unsigned i = 0; i < n; ++i) {
        const auto* p = rte_pktmbuf_mtod(frames[i], const std::uint8_t*);
        sent.emplace_back(p, p + rte_pktmbuf_pkt_len(frames[i]));
        rte_pktmbuf_free(frames[i]);
    }
    // To the client: a plain RST from the VIP. To the server: the same kind of RST, from the
    // client to the VIP, inside an outer header from the node to the server.
    CHECK(rte_be_to_cpu_32(ip_of(sent[0])->src_addr) == vip);
    Bytes& to_server = sent[1];
    CHECK(rs1_mac == eth_of(to_server)->dst_addr);
    CHECK(ip_of(to_server)->next_proto_id == 4);
    CHECK(rte_be_to_cpu_32(ip_of(to_server)->src_addr) == node_int);
    CHECK(rte_be_to_cpu_32(ip_of(to_server)->dst_addr) == rs1);
    CHECK(internet_checksum(to_server.data() + 14, 20) == 0);
    // The inner packet, behind 14 bytes that stand where ip_of expects an Ethernet header.
    Bytes inner(to_server.begin() + 20, to_server.end());
    CHECK(rte_be_to_cpu_32(ip_of(inner)->src_addr) == client);
    CHECK(rte_be_to_cpu_32(ip_of(inner)->dst_addr) == vip);
    CHECK(tcp_of(inner)->tcp_flags == RTE_TCP_RST_FLAG);
}
