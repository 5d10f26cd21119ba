// The worker across time: mh adoption after a failover, FTP active mode in DR, a new configuration,
// the exception path, quorum, resets, checksum offload, replication events, a full template table.
#include <catch2/catch.hpp>

#include "test/packet/worker_test_fixture.hpp"

using namespace worker_fixture;

// A NAT service on 198.51.100.100:80 with Maglev over 203.0.113.11 (and .12).
std::string mh_config(bool second_server = true) {
    return std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    scheduler: mh
    real_servers:
      - {address: 203.0.113.11}
)" + (second_server ? "      - {address: 203.0.113.12}\n" : "");
}

TEST_CASE("mh adopts a mid-flow packet with no connection, as after a failover") {
    WorkerHarness h(mh_config());
    h.resolve(rs1, rs1_mac, 1);
    h.resolve(rs2, rs2_mac, 1);
    L4 ack = syn_to_vip();
    ack.tcp_flags = RTE_TCP_ACK_FLAG;
    auto out = h.send(ipv4_frame(ack));
    REQUIRE(out.size() == 1);
    CHECK(h.dataplane.connections().size() == 1);
}

TEST_CASE("mh adoption without replication: a server's segment waits for the client's next one") {
    // What README promises and no more (issue 10, item 2): a NAT flow missing from the table is
    // adopted from the client's side only. The server's segments are dropped until the client
    // sends (its frame also tells where the client is); then both directions flow. Session
    // replication removes the wait.
    WorkerHarness h(mh_config(false));
    h.resolve(rs1, rs1_mac, 1);
    L4 reply;
    reply.src = rs1;
    reply.dst = client;
    reply.sport = 80;
    reply.dport = 40000;
    reply.tcp_flags = RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG;
    reply.data = "more of the download";
    reply.src_mac = rs1_mac;
    reply.dst_mac = port1_mac;
    CHECK(h.send(ipv4_frame(reply), 1).empty());
    CHECK(h.drops(DropReason::no_connection) == 1);
    L4 ack = syn_to_vip();
    ack.tcp_flags = RTE_TCP_ACK_FLAG;
    REQUIRE(h.send(ipv4_frame(ack)).size() == 1);
    auto out = h.send(ipv4_frame(reply), 1);
    REQUIRE(out.size() == 1);
    CHECK(out[0].interface == 0);
    const std::uint32_t source = ip_of(out[0].frame)->src_addr;
    CHECK(source == rte_cpu_to_be_32(vip));
}

TEST_CASE("FTP active mode in DR: the client's answer to a server-opened connection follows "
          "its template") {
    auto config = [](const char* weight1) {
        return std::string(R"(node: {name: test}
interfaces:
  - {name: ext, device: d0, address: 198.51.100.2/24}
services:
  - name: ftp
    vip: 198.51.100.100
    ports: [21, 20, "10000-10100"]
    forwarding: dr
    scheduler: rr
    persistence: {timeout: 300s}
    real_servers:
      - {address: 198.51.100.21, weight: )") +
               weight1 + R"(}
      - {address: 198.51.100.22}
)";
    };
    WorkerHarness h(config("1"));
    h.resolve(dr_rs1, rs1_mac, 0);
    h.resolve(ipv4(198, 51, 100, 22), rs2_mac, 0);
    // The real server's SYN from VIP:20 went straight to the client; its SYN-ACK comes here.
    L4 syn_ack = syn_to_vip(50000, 20);
    syn_ack.tcp_flags = RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG;

    SECTION("without a template it is dropped and counted") {
        CHECK(h.send(ipv4_frame(syn_ack)).empty());
        CHECK(h.drops(DropReason::no_persistence_template) == 1);
        CHECK(h.dataplane.connections().size() == 0);
    }
    SECTION("with the client's control connection open it goes to that real server") {
        auto control = h.send(ipv4_frame(syn_to_vip(40000, 21)));
        REQUIRE(control.size() == 1);
        const bool on_rs1 = rs1_mac == eth_of(control[0].frame)->dst_addr;
        auto data = h.send(ipv4_frame(syn_ack));
        REQUIRE(data.size() == 1);
        CHECK((on_rs1 ? rs1_mac : rs2_mac) == eth_of(data[0].frame)->dst_addr);
        L4 ack = syn_ack;
        ack.tcp_flags = RTE_TCP_ACK_FLAG;
        ack.payload = 100;
        REQUIRE(h.send(ipv4_frame(ack)).size() == 1);
        CHECK(h.dataplane.connections().size() == 2);

        // Drained meanwhile: the session's own new data connection still follows it.
        if (on_rs1) {
            h.republish(config("0"));
            L4 another = syn_ack;
            another.sport = 50001;
            auto again = h.send(ipv4_frame(another));
            REQUIRE(again.size() == 1);
            CHECK(rs1_mac == eth_of(again[0].frame)->dst_addr);
        }
        // A RST of a connection we never saw is not adopted.
        L4 rst = syn_ack;
        rst.sport = 50002;
        rst.tcp_flags = RTE_TCP_RST_FLAG;
        CHECK(h.send(ipv4_frame(rst)).empty());
    }
}

TEST_CASE("a new configuration: removed servers and services drain, new ones take traffic") {
    const std::string before = std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    scheduler: rr
    real_servers:
      - {address: 203.0.113.11, port: 8080}
      - {address: 203.0.113.12, port: 8080}
  - name: old
    vip: 198.51.100.101
    port: 80
    real_servers:
      - {address: 203.0.113.11, port: 8080}
)";
    const std::string after = std::string(two_interfaces) + R"(services:
  - name: new
    vip: 198.51.100.102
    port: 80
    real_servers:
      - {address: 203.0.113.12, port: 8080}
  - name: web
    vip: 198.51.100.100
    port: 80
    scheduler: rr
    real_servers:
      - {address: 203.0.113.12, port: 8080}
)";
    WorkerHarness h(before);
    h.resolve(rs1, rs1_mac, 1);
    h.resolve(rs2, rs2_mac, 1);
    // Established: web → rs1 (rr's first), old → rs1.
    REQUIRE(rte_be_to_cpu_32(ip_of(h.send(ipv4_frame(syn_to_vip(1000)))[0].frame)->dst_addr) ==
            rs1);
    L4 to_old = syn_to_vip(1001);
    to_old.dst = ipv4(198, 51, 100, 101);
    REQUIRE(h.send(ipv4_frame(to_old)).size() == 1);

    h.republish(after);
    L4 ack = syn_to_vip(1000);
    ack.tcp_flags = RTE_TCP_ACK_FLAG;
    auto web = h.send(ipv4_frame(ack));
    REQUIRE(web.size() == 1);
    CHECK(rte_be_to_cpu_32(ip_of(web[0].frame)->dst_addr) == rs1); // rs1 removed: drains
    CHECK(rs1_mac == eth_of(web[0].frame)->dst_addr);
    L4 old_ack = to_old;
    old_ack.tcp_flags = RTE_TCP_ACK_FLAG;
    CHECK(h.send(ipv4_frame(old_ack)).size() == 1); // service removed: drains too
    // New connections: web goes to rs2 only; the removed service takes none; the new one works.
    for (std::uint16_t port = 2000; port < 2004; ++port)
        CHECK(rte_be_to_cpu_32(ip_of(h.send(ipv4_frame(syn_to_vip(port)))[0].frame)->dst_addr) ==
              rs2);
    to_old.sport = 3000;
    CHECK(h.send(ipv4_frame(to_old)).empty());
    CHECK(h.drops(DropReason::no_service) == 1);
    L4 to_new = syn_to_vip(3001);
    to_new.dst = ipv4(198, 51, 100, 102);
    CHECK(h.send(ipv4_frame(to_new)).size() == 1);
    // The removed service's VIP still answers ARP while its connections drain.
    CHECK(
        h.send(arp_frame(RTE_ARP_OP_REQUEST, client_mac, client, ipv4(198, 51, 100, 101))).size() ==
        1);
}

TEST_CASE("the node's own traffic goes to the kernel exception path") {
    WorkerHarness h(nat_config(), 1024, true);
    // TCP to the node's address (e.g. a health check's answer, ssh to the node).
    L4 to_node = syn_to_vip(40000, 22);
    to_node.dst = node_ext;
    auto out = h.send(ipv4_frame(to_node));
    REQUIRE(out.size() == 1);
    CHECK(out[0].to_kernel);
    CHECK(out[0].interface == 0);
    // ICMP to the node's address: the kernel answers.
    L4 ping = to_node;
    ping.protocol = IPPROTO_ICMP;
    ping.payload = 8;
    out = h.send(ipv4_frame(ping));
    REQUIRE(out.size() == 1);
    CHECK(out[0].to_kernel);
    // ARP replies to the node: learnt here and passed on for the kernel's own neighbour table.
    out = h.send(arp_frame(RTE_ARP_OP_REPLY, rs1_mac, rs1, ipv4(203, 0, 113, 1), port1_mac), 1);
    REQUIRE(out.size() == 1);
    CHECK(out[0].to_kernel);
    CHECK(out[0].interface == 1);
    rte_ether_addr learnt;
    CHECK(h.dataplane.neighbours().resolve(0, learnt) +
              h.dataplane.neighbours().resolve(1, learnt) >=
          1);
    // VIP traffic stays in the dataplane: ping to the VIP is answered in place.
    L4 vip_ping = ping;
    vip_ping.dst = vip;
    out = h.send(ipv4_frame(vip_ping));
    REQUIRE(out.size() == 1);
    CHECK_FALSE(out[0].to_kernel);
    CHECK(h.drops(DropReason::to_node) == 0);
}

TEST_CASE("the node's own IPv6 traffic goes to the kernel exception path") {
    // ext is dual-stack, int IPv4 only. The kernel side answers Neighbour Discovery and echo for
    // the node's addresses (lb/exception_path.cpp gives it exactly these).
    WorkerHarness h(R"(node: {name: test}
interfaces:
  - {name: ext, device: d0, addresses: [198.51.100.2/24, "2001:db8:100::2/64"]}
  - {name: int, device: d1, address: 203.0.113.1/24}
)",
                    1024, true);
    const Ipv6Address node6 = ipv6(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 2);
    // fe80::/64 with port0_mac's modified EUI-64 (02:00:00:00:00:01 -> 0000:00ff:fe00:0001).
    const Ipv6Address link_local = ipv6(0xfe80, 0, 0, 0, 0, 0x00ff, 0xfe00, 0x0001);
    const Ipv6Address solicited_node = ipv6(0xff02, 0, 0, 0, 0, 1, 0xff00, 0x0002); // of ::2
    const Ipv6Address all_nodes = ipv6(0xff02, 0, 0, 0, 0, 0, 0, 1);
    const Ipv6Address elsewhere = ipv6(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 3);
    auto to = [](Ipv6Address dst, std::uint8_t protocol) {
        L6 p;
        p.dst = dst;
        p.protocol = protocol;
        p.dport = 22;
        return ipv6_frame(p);
    };
    for (const auto& [dst, protocol] :
         std::vector<std::pair<Ipv6Address, std::uint8_t>>{{node6, IPPROTO_TCP},
                                                           {node6, IPPROTO_ICMPV6},
                                                           {link_local, IPPROTO_UDP},
                                                           {solicited_node, IPPROTO_ICMPV6},
                                                           {all_nodes, IPPROTO_ICMPV6}}) {
        INFO(int{protocol});
        const auto out = h.send(to(dst, protocol));
        REQUIRE(out.size() == 1);
        CHECK(out[0].to_kernel);
        CHECK(out[0].interface == 0);
    }
    // Another host's address, another address's solicited-node group, and anything IPv6 on a
    // link without IPv6: not the node's, and not served yet.
    CHECK(h.send(to(elsewhere, IPPROTO_TCP)).empty());
    CHECK(h.send(to(ipv6(0xff02, 0, 0, 0, 0, 1, 0xff00, 0x0003), IPPROTO_ICMPV6)).empty());
    CHECK(h.send(to(all_nodes, IPPROTO_ICMPV6), 1).empty());
    CHECK(h.send(to(node6, IPPROTO_TCP), 1).empty());
    CHECK(h.drops(DropReason::ipv6_not_enabled) == 4);
}

TEST_CASE("below quorum, new connections go to the sorry server") {
    const std::string config = std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    scheduler: rr
    quorum: 2
    sorry_server: {address: 203.0.113.99, port: 8080}
    real_servers:
      - {address: 203.0.113.11, port: 8080}
      - {address: 203.0.113.12, port: 8080}
)";
    WorkerHarness h(config);
    const std::uint32_t sorry = ipv4(203, 0, 113, 99);
    h.resolve(rs1, rs1_mac, 1);
    h.resolve(rs2, rs2_mac, 1);
    h.resolve(sorry, rs2_mac, 1);
    auto destination = [&](std::uint16_t port) {
        auto out = h.send(ipv4_frame(syn_to_vip(port)));
        REQUIRE(out.size() == 1);
        return rte_be_to_cpu_32(ip_of(out[0].frame)->dst_addr);
    };
    CHECK(destination(1000) == rs1);
    CHECK(destination(1001) == rs2);
    const lb::control::health::DownSet one_down{{"web", rs1, 8080}};
    h.republish(config, &one_down); // one of two up: below quorum 2
    for (std::uint16_t p = 2000; p < 2004; ++p)
        CHECK(destination(p) == sorry);
    L4 ack = syn_to_vip(1001);
    ack.tcp_flags = RTE_TCP_ACK_FLAG;
    auto out = h.send(ipv4_frame(ack)); // established on rs2: continues
    REQUIRE(out.size() == 1);
    CHECK(rte_be_to_cpu_32(ip_of(out[0].frame)->dst_addr) == rs2);
    const lb::control::health::DownSet none;
    h.republish(config, &none);
    CHECK(destination(3000) != sorry);
}

TEST_CASE("on_failure: reset answers a segment of no known connection with an exact RST") {
    WorkerHarness h(std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    on_failure: reset
    real_servers:
      - {address: 203.0.113.11, port: 8080}
)");
    L4 ack = syn_to_vip(40000);
    ack.tcp_flags = RTE_TCP_ACK_FLAG;
    ack.seq = 5000;
    ack.ack = 777777;
    ack.payload = 20;
    auto out = h.send(ipv4_frame(ack));
    REQUIRE(out.size() == 1);
    Bytes& f = out[0].frame;
    CHECK(out[0].interface == 0);
    CHECK(rte_be_to_cpu_32(ip_of(f)->src_addr) == vip);
    CHECK(rte_be_to_cpu_32(ip_of(f)->dst_addr) == client);
    CHECK(rte_be_to_cpu_16(tcp_of(f)->src_port) == 80);
    CHECK(rte_be_to_cpu_16(tcp_of(f)->dst_port) == 40000);
    CHECK(tcp_of(f)->tcp_flags == RTE_TCP_RST_FLAG);
    CHECK(rte_be_to_cpu_32(tcp_of(f)->sent_seq) == 777777);
    CHECK(tcp_payload(f).empty());
    CHECK(rte_ipv4_cksum(ip_of(f)) == 0);
    CHECK(l4_checksum_ok(f));
    CHECK(client_mac == eth_of(f)->dst_addr);
    // A RST is never answered.
    L4 rst = ack;
    rst.tcp_flags = RTE_TCP_RST_FLAG;
    CHECK(h.send(ipv4_frame(rst)).empty());
}

TEST_CASE("the NIC's IPv4 checksum verdict is taken when it gives one") {
    WorkerHarness h(std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    real_servers:
      - {address: 203.0.113.11, port: 8080}
)");
    h.resolve(rs1, rs1_mac, 1);
    Bytes broken = ipv4_frame(syn_to_vip(40100));
    ip_of(broken)->hdr_checksum ^= 0x0101;
    Bytes fine = ipv4_frame(syn_to_vip(40101));
    // No verdict: our own sum decides.
    CHECK(h.send(broken).empty());
    CHECK(h.drops(DropReason::bad_ip_header) == 1);
    // GOOD (the NIC checked the header): no second check, even of a field we would refuse.
    h.rx_ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD;
    CHECK(h.send(broken).size() == 1);
    // BAD: refused, however right the field looks.
    h.rx_ol_flags = RTE_MBUF_F_RX_IP_CKSUM_BAD;
    CHECK(h.send(fine).empty());
    CHECK(h.drops(DropReason::bad_ip_header) == 2);
    // NONE: the header was verified, the field is not filled in.
    h.rx_ol_flags = RTE_MBUF_F_RX_IP_CKSUM_NONE;
    CHECK(h.send(fine).size() == 1);
}

TEST_CASE("replication in sync: a segment of no known connection is reset; not in sync, dropped") {
    WorkerHarness h(std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    real_servers:
      - {address: 203.0.113.11, port: 8080}
)");
    L4 ack = syn_to_vip(40000);
    ack.tcp_flags = RTE_TCP_ACK_FLAG;
    ack.ack = 4242;
    // Not in sync (a bulk dump may still bring the connection): silence, as without replication.
    CHECK(h.send(ipv4_frame(ack)).empty());
    CHECK(h.drops(DropReason::no_connection) == 1);
    h.context().reset_unknown_flows.store(true);
    auto out = h.send(ipv4_frame(ack));
    REQUIRE(out.size() == 1);
    CHECK(tcp_of(out[0].frame)->tcp_flags == RTE_TCP_RST_FLAG);
    CHECK(rte_be_to_cpu_32(tcp_of(out[0].frame)->sent_seq) == 4242);
    CHECK(h.counters().resets_sent.read() == 1);
    // A SYN still opens a connection, and a RST is never answered.
    CHECK(h.send(ipv4_frame(syn_to_vip(40001))).size() <= 1);
    L4 rst = ack;
    rst.tcp_flags = RTE_TCP_RST_FLAG;
    CHECK(h.send(ipv4_frame(rst)).empty());
}

TEST_CASE("replication events: a TCP connection once established and at each change after") {
    WorkerHarness h(std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    persistence: {timeout: 300s}
    real_servers:
      - {address: 203.0.113.11, port: 8080}
  - name: dns
    vip: 198.51.100.100
    port: 53
    protocol: udp
    real_servers:
      - {address: 203.0.113.11}
)");
    h.resolve(rs1, rs1_mac, 1);
    using lb::dataplane::SyncEvent;
    using lb::dataplane::SyncEventKind;
    auto kinds = [&] {
        std::vector<SyncEventKind> k;
        for (auto e : h.sync_events())
            k.push_back(SyncEvent::kind(e));
        return k;
    };
    // The SYN creates the client's template (sent) but not yet the connection.
    REQUIRE(h.send(ipv4_frame(syn_to_vip(40000))).size() == 1);
    CHECK(kinds() == std::vector{SyncEventKind::persistence_template});
    L4 ack = syn_to_vip(40000);
    ack.tcp_flags = RTE_TCP_ACK_FLAG;
    REQUIRE(h.send(ipv4_frame(ack)).size() == 1);
    const auto established = h.sync_events();
    REQUIRE(established.size() == 1);
    CHECK(SyncEvent::kind(established[0]) == SyncEventKind::connection);
    CHECK(h.context().connections->at(SyncEvent::index(established[0])).key.src_port ==
          rte_cpu_to_be_16(40000));
    // Established packets change nothing: no event.
    REQUIRE(h.send(ipv4_frame(ack)).size() == 1);
    CHECK(kinds().empty());
    L4 fin = ack;
    fin.tcp_flags = RTE_TCP_ACK_FLAG | RTE_TCP_FIN_FLAG;
    REQUIRE(h.send(ipv4_frame(fin)).size() == 1);
    CHECK(kinds() == std::vector{SyncEventKind::connection});
    // A UDP flow on creation.
    L4 udp = syn_to_vip(5353);
    udp.protocol = IPPROTO_UDP;
    udp.dport = 53;
    REQUIRE(h.send(ipv4_frame(udp)).size() == 1);
    CHECK(kinds() == std::vector{SyncEventKind::connection});
}

TEST_CASE("a full template table refuses the new client once, as template_table_full") {
    WorkerHarness h(std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    scheduler: rr
    persistence: {timeout: 300s}
    real_servers:
      - {address: 203.0.113.11}
)",
                    4096);
    h.resolve(rs1, rs1_mac, 1);
    constexpr std::uint32_t templates = 1024; // the harness's template table
    std::vector<Bytes> burst;
    std::size_t forwarded = 0;
    for (std::uint32_t i = 0; i <= templates; ++i) {
        L4 p = syn_to_vip();
        p.src = ipv4(10, 1, static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i));
        burst.push_back(ipv4_frame(p));
        if (burst.size() == 32 || i == templates) {
            forwarded += h.send(burst).size();
            burst.clear();
        }
    }
    CHECK(forwarded == templates);
    CHECK(h.drops(DropReason::template_table_full) == 1);
    CHECK(h.total_drops() == 1); // counted once, not also as no_real_server
    // A client that has its template still gets through.
    L4 known = syn_to_vip(40001);
    known.src = ipv4(10, 1, 0, 7);
    CHECK(h.send(ipv4_frame(known)).size() == 1);
}
