// The worker on crafted frames: what comes out for each kind of frame that goes in.
#include <catch2/catch.hpp>

#include "test/packet/worker_test_fixture.hpp"

using namespace worker_fixture;

TEST_CASE("ARP requests for node addresses and VIPs are answered; others are not") {
    WorkerHarness h(nat_config());
    for (std::uint32_t target : {vip, node_ext}) {
        auto out = h.send(arp_frame(RTE_ARP_OP_REQUEST, client_mac, client, target));
        REQUIRE(out.size() == 1);
        CHECK(out[0].interface == 0);
        const auto* arp = arp_of(out[0].frame);
        CHECK(rte_be_to_cpu_16(arp->arp_opcode) == RTE_ARP_OP_REPLY);
        CHECK(port0_mac == arp->arp_data.arp_sha);
        CHECK(rte_be_to_cpu_32(arp->arp_data.arp_sip) == target);
        CHECK(client_mac == arp->arp_data.arp_tha);
        CHECK(rte_be_to_cpu_32(arp->arp_data.arp_tip) == client);
        CHECK(client_mac == eth_of(out[0].frame)->dst_addr);
        CHECK(port0_mac == eth_of(out[0].frame)->src_addr);
    }
    CHECK(
        h.send(arp_frame(RTE_ARP_OP_REQUEST, client_mac, client, ipv4(198, 51, 100, 99))).empty());
    CHECK(h.drops(DropReason::arp_ignored) == 1);
}

TEST_CASE("ARP from a real server teaches its MAC; until then its traffic is held back") {
    WorkerHarness h(nat_config());
    CHECK(h.send(ipv4_frame(syn_to_vip())).empty());
    CHECK(h.drops(DropReason::neighbour_unresolved) == 1);
    h.send(arp_frame(RTE_ARP_OP_REPLY, rs1_mac, rs1, ipv4(203, 0, 113, 1), port1_mac), 1);
    h.send(arp_frame(RTE_ARP_OP_REPLY, rs2_mac, rs2, ipv4(203, 0, 113, 1), port1_mac), 1);
    auto out = h.send(ipv4_frame(syn_to_vip(40001)));
    REQUIRE(out.size() == 1);
    CHECK((rs1_mac == eth_of(out[0].frame)->dst_addr || rs2_mac == eth_of(out[0].frame)->dst_addr));
}

TEST_CASE("ICMP echo to a VIP or node address is answered") {
    WorkerHarness h(nat_config());
    for (std::uint32_t target : {vip, node_ext}) {
        L4 p;
        p.protocol = IPPROTO_ICMP;
        p.src = client;
        p.dst = target;
        p.payload = 56;
        auto out = h.send(ipv4_frame(p));
        REQUIRE(out.size() == 1);
        Bytes& f = out[0].frame;
        CHECK(rte_be_to_cpu_32(ip_of(f)->src_addr) == target);
        CHECK(rte_be_to_cpu_32(ip_of(f)->dst_addr) == client);
        CHECK(rte_ipv4_cksum(ip_of(f)) == 0);
        const auto* icmp = reinterpret_cast<const rte_icmp_hdr*>(l4_of(f));
        CHECK(icmp->icmp_type == RTE_IP_ICMP_ECHO_REPLY);
        CHECK(rte_raw_cksum(icmp, 64) == 0xffff);
        CHECK(client_mac == eth_of(f)->dst_addr);
    }
    L4 other;
    other.protocol = IPPROTO_ICMP;
    other.src = client;
    other.dst = ipv4(198, 51, 100, 77);
    CHECK(h.send(ipv4_frame(other)).empty());
    CHECK(h.drops(DropReason::icmp_ignored) == 1);
}

TEST_CASE("DR rewrites only the destination MAC") {
    WorkerHarness h(dr_config);
    h.resolve(dr_rs1, rs1_mac, 0);
    Bytes in = ipv4_frame(syn_to_vip());
    auto out = h.send(in);
    REQUIRE(out.size() == 1);
    Bytes& f = out[0].frame;
    CHECK(out[0].interface == 0);
    CHECK(rs1_mac == eth_of(f)->dst_addr);
    CHECK(port0_mac == eth_of(f)->src_addr);
    // Everything from the IP header on is untouched.
    CHECK(std::equal(in.begin() + 14, in.end(), f.begin() + 14));
    // The rest of the flow follows, also with the ACK that completes the handshake.
    L4 ack = syn_to_vip();
    ack.tcp_flags = RTE_TCP_ACK_FLAG;
    ack.payload = 100;
    REQUIRE(h.send(ipv4_frame(ack)).size() == 1);
    CHECK(h.dataplane.connections().size() == 1);
}

TEST_CASE("NAT rewrites the destination to the real server and replies back to the VIP") {
    NatHarness h;
    L4 syn = syn_to_vip();
    auto out = h.send(ipv4_frame(syn));
    REQUIRE(out.size() == 1);
    Bytes& f = out[0].frame;
    CHECK(out[0].interface == 1);
    const std::uint32_t chosen = rte_be_to_cpu_32(ip_of(f)->dst_addr);
    CHECK((chosen == rs1 || chosen == rs2));
    CHECK(rte_be_to_cpu_16(reinterpret_cast<rte_tcp_hdr*>(l4_of(f))->dst_port) == 8080);
    CHECK(rte_be_to_cpu_32(ip_of(f)->src_addr) == client);
    CHECK(rte_ipv4_cksum(ip_of(f)) == 0);
    CHECK(l4_checksum_ok(f));
    CHECK(port1_mac == eth_of(f)->src_addr);
    CHECK((chosen == rs1 ? rs1_mac : rs2_mac) == eth_of(f)->dst_addr);

    // The real server's SYN-ACK arrives on the inside and leaves towards the client.
    L4 reply;
    reply.src = chosen;
    reply.dst = client;
    reply.sport = 8080;
    reply.dport = 40000;
    reply.tcp_flags = RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG;
    reply.src_mac = chosen == rs1 ? rs1_mac : rs2_mac;
    reply.dst_mac = port1_mac;
    reply.payload = 10;
    auto back = h.send(ipv4_frame(reply), 1);
    REQUIRE(back.size() == 1);
    Bytes& r = back[0].frame;
    CHECK(back[0].interface == 0);
    CHECK(rte_be_to_cpu_32(ip_of(r)->src_addr) == vip);
    CHECK(rte_be_to_cpu_16(reinterpret_cast<rte_tcp_hdr*>(l4_of(r))->src_port) == 80);
    CHECK(rte_be_to_cpu_32(ip_of(r)->dst_addr) == client);
    CHECK(rte_ipv4_cksum(ip_of(r)) == 0);
    CHECK(l4_checksum_ok(r));
    CHECK(client_mac == eth_of(r)->dst_addr);
    CHECK(port0_mac == eth_of(r)->src_addr);
}

TEST_CASE("NAT for UDP, with and without a UDP checksum") {
    NatHarness h;
    L4 q;
    q.protocol = IPPROTO_UDP;
    q.src = client;
    q.dst = vip;
    q.sport = 5000;
    q.dport = 53;
    q.payload = 33;
    auto out = h.send(ipv4_frame(q));
    REQUIRE(out.size() == 1);
    CHECK(rte_be_to_cpu_32(ip_of(out[0].frame)->dst_addr) == rs1);
    CHECK(l4_checksum_ok(out[0].frame));
    Bytes no_checksum = ipv4_frame(q);
    reinterpret_cast<rte_udp_hdr*>(l4_of(no_checksum))->dgram_cksum = 0;
    out = h.send(no_checksum);
    REQUIRE(out.size() == 1);
    CHECK(reinterpret_cast<rte_udp_hdr*>(l4_of(out[0].frame))->dgram_cksum == 0);
}

TEST_CASE("only configured VIP ports are reachable") {
    NatHarness h;
    CHECK(h.send(ipv4_frame(syn_to_vip(40000, 81))).empty());
    CHECK(h.drops(DropReason::no_service) == 1);
    L4 to_node = syn_to_vip(40000, 22);
    to_node.dst = node_ext;
    CHECK(h.send(ipv4_frame(to_node)).empty());
    CHECK(h.drops(DropReason::to_node) == 1);
    L4 elsewhere = syn_to_vip(40000, 80);
    elsewhere.dst = ipv4(198, 51, 100, 200);
    CHECK(h.send(ipv4_frame(elsewhere)).empty());
    CHECK(h.drops(DropReason::no_connection) == 1);
}

TEST_CASE("a TCP segment that is not a SYN and matches no connection is dropped") {
    NatHarness h;
    L4 ack = syn_to_vip();
    ack.tcp_flags = RTE_TCP_ACK_FLAG;
    CHECK(h.send(ipv4_frame(ack)).empty());
    CHECK(h.drops(DropReason::no_connection) == 1);
    CHECK(h.dataplane.connections().size() == 0);
}

TEST_CASE("malformed frames are dropped and counted, never forwarded") {
    NatHarness h;
    struct Case {
        const char* name;
        Bytes frame;
        DropReason reason;
    };
    std::vector<Case> cases;
    Bytes good = ipv4_frame(syn_to_vip());
    cases.push_back(
        {"runt Ethernet", Bytes(good.begin(), good.begin() + 10), DropReason::truncated});
    cases.push_back(
        {"truncated IP header", Bytes(good.begin(), good.begin() + 30), DropReason::truncated});
    {
        Bytes f = good;
        ip_of(f)->version_ihl = 0x44; // IHL 4 < 5
        ip_of(f)->hdr_checksum = 0;
        ip_of(f)->hdr_checksum = rte_ipv4_cksum(ip_of(f));
        cases.push_back({"IHL below 5", f, DropReason::bad_ip_header});
    }
    {
        Bytes f = good;
        ip_of(f)->version_ihl = 0x4f; // 60-byte header: past the TCP header's end
        cases.push_back({"IHL past the data", f, DropReason::truncated});
    }
    {
        Bytes f = good;
        ip_of(f)->version_ihl = 0x65;
        cases.push_back({"IP version 6 in an IPv4 frame", f, DropReason::bad_ip_header});
    }
    {
        Bytes f = good;
        ip_of(f)->total_length = rte_cpu_to_be_16(1400);
        ip_of(f)->hdr_checksum = 0;
        ip_of(f)->hdr_checksum = rte_ipv4_cksum(ip_of(f));
        cases.push_back({"total length beyond the frame", f, DropReason::bad_ip_header});
    }
    {
        Bytes f = good;
        ip_of(f)->hdr_checksum ^= 0x0101;
        cases.push_back({"bad header checksum", f, DropReason::bad_ip_header});
    }
    for (std::uint16_t frag : {std::uint16_t{RTE_IPV4_HDR_MF_FLAG}, std::uint16_t{185}}) {
        Bytes f = good;
        ip_of(f)->fragment_offset = rte_cpu_to_be_16(frag);
        ip_of(f)->hdr_checksum = 0;
        ip_of(f)->hdr_checksum = rte_ipv4_cksum(ip_of(f));
        cases.push_back({"fragment", f, DropReason::fragment});
    }
    {
        Bytes f = good;
        ip_of(f)->total_length = rte_cpu_to_be_16(20); // no TCP header at all
        ip_of(f)->hdr_checksum = 0;
        ip_of(f)->hdr_checksum = rte_ipv4_cksum(ip_of(f));
        cases.push_back({"zero-length TCP", f, DropReason::truncated});
    }
    {
        Bytes f = good;
        reinterpret_cast<rte_tcp_hdr*>(l4_of(f))->data_off = 0x40;
        cases.push_back({"TCP data offset below 5", f, DropReason::bad_l4_header});
    }
    {
        Bytes f = good;
        reinterpret_cast<rte_tcp_hdr*>(l4_of(f))->data_off = 0xf0;
        cases.push_back({"TCP data offset past the segment", f, DropReason::bad_l4_header});
    }
    {
        L4 q;
        q.protocol = IPPROTO_UDP;
        q.src = client;
        q.dst = vip;
        q.sport = 5000;
        q.dport = 53;
        q.payload = 10;
        Bytes f = ipv4_frame(q);
        reinterpret_cast<rte_udp_hdr*>(l4_of(f))->dgram_len = rte_cpu_to_be_16(500);
        cases.push_back({"UDP length past the datagram", f, DropReason::bad_l4_header});
    }
    {
        Bytes f = good;
        reinterpret_cast<rte_ether_hdr*>(f.data())->ether_type =
            rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN);
        cases.push_back({"VLAN-tagged", f, DropReason::not_ip});
    }
    {
        Bytes f = good;
        reinterpret_cast<rte_ether_hdr*>(f.data())->ether_type = rte_cpu_to_be_16(0x86dd);
        cases.push_back({"IPv4 in an IPv6 frame", f, DropReason::bad_ip_header});
    }
    // Ether()/IPv6(src=client6, dst=vip6)/TCP(sport=40000, dport=80, flags='S')
    cases.push_back({"IPv6 SYN", ipv6_frame(L6{}), DropReason::ipv6_not_enabled});
    for (auto& c : cases) {
        INFO(c.name);
        const std::uint64_t before = h.drops(c.reason);
        CHECK(h.send(c.frame).empty());
        CHECK(h.drops(c.reason) == before + 1);
    }
    CHECK(h.dataplane.connections().size() == 0);
}

TEST_CASE("IPv6 TCP, UDP and ICMPv6 are parsed but neither forwarded nor handed to the kernel") {
    WorkerHarness h(nat_config(), 1024, true);
    L6 udp;
    udp.protocol = IPPROTO_UDP;
    udp.dport = 53;
    L6 echo;
    echo.protocol = IPPROTO_ICMPV6;
    // To a VIP and to an address of nobody's: the same verdict, no lookup made.
    L6 elsewhere;
    elsewhere.dst = ipv6(0x2001, 0xdb8, 0x999, 0, 0, 0, 0, 1);
    CHECK(h.send({ipv6_frame(L6{}), ipv6_frame(udp), ipv6_frame(echo), ipv6_frame(elsewhere)})
              .empty());
    CHECK(h.drops(DropReason::ipv6_not_enabled) == 4);
    CHECK(h.total_drops() == 4);
    CHECK(h.counters().to_kernel.read() == 0);
    CHECK(h.dataplane.connections().size() == 0);
}

TEST_CASE("IP options: the L4 header is found after them and rewritten there") {
    NatHarness h;
    L4 p = syn_to_vip();
    p.ip_option_words = 2;
    p.payload = 20;
    auto out = h.send(ipv4_frame(p));
    REQUIRE(out.size() == 1);
    Bytes& f = out[0].frame;
    CHECK((ip_of(f)->version_ihl & 0xf) == 7);
    CHECK(rte_be_to_cpu_16(reinterpret_cast<rte_tcp_hdr*>(l4_of(f))->dst_port) == 8080);
    CHECK(rte_ipv4_cksum(ip_of(f)) == 0);
    CHECK(l4_checksum_ok(f));
}

TEST_CASE("persistence: a client and its /24 stick to one real server") {
    WorkerHarness h(std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    scheduler: rr
    persistence: {timeout: 10s, netmask: 255.255.255.0}
    real_servers:
      - {address: 203.0.113.11, port: 8080}
      - {address: 203.0.113.12, port: 8080}
)");
    h.resolve(rs1, rs1_mac, 1);
    h.resolve(rs2, rs2_mac, 1);
    std::uint32_t first = 0;
    for (std::uint16_t port = 1000; port < 1050; ++port) {
        L4 p = syn_to_vip(port);
        p.src = port % 2 ? client : ipv4(198, 51, 100, 11); // two clients of one /24
        auto out = h.send(ipv4_frame(p));
        REQUIRE(out.size() == 1);
        const std::uint32_t rs = rte_be_to_cpu_32(ip_of(out[0].frame)->dst_addr);
        if (!first)
            first = rs;
        REQUIRE(rs == first);
    }
    CHECK(h.dataplane.templates().size() == 1);
    // Another /24 gets its own template; with rr it is the other server.
    L4 other = syn_to_vip(2000);
    other.src = ipv4(192, 0, 2, 10);
    auto out = h.send(ipv4_frame(other));
    REQUIRE(out.size() == 1);
    CHECK(rte_be_to_cpu_32(ip_of(out[0].frame)->dst_addr) != first);
    CHECK(h.dataplane.templates().size() == 2);
}

TEST_CASE("a template pointing at a drained or removed real server is not reused") {
    auto config = [](const std::string& servers) {
        return std::string(two_interfaces) + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    scheduler: rr
    persistence: {timeout: 10s}
    real_servers:
)" + servers;
    };
    const std::string both = "      - {address: 203.0.113.11}\n      - {address: 203.0.113.12}\n";
    WorkerHarness h(config(both));
    h.resolve(rs1, rs1_mac, 1);
    h.resolve(rs2, rs2_mac, 1);
    auto destination = [&](std::uint16_t port) {
        auto out = h.send(ipv4_frame(syn_to_vip(port)));
        REQUIRE(out.size() == 1);
        return rte_be_to_cpu_32(ip_of(out[0].frame)->dst_addr);
    };
    REQUIRE(destination(1000) == rs1);
    REQUIRE(destination(1001) == rs1);

    SECTION("drained: weight 0") {
        h.republish(config("      - {address: 203.0.113.11, weight: 0}\n"
                           "      - {address: 203.0.113.12}\n"));
        CHECK(destination(1002) == rs2);
        CHECK(destination(1003) == rs2); // the template now points at rs2
        // The established connection to the drained server keeps flowing.
        L4 ack = syn_to_vip(1000);
        ack.tcp_flags = RTE_TCP_ACK_FLAG;
        auto out = h.send(ipv4_frame(ack));
        REQUIRE(out.size() == 1);
        CHECK(rte_be_to_cpu_32(ip_of(out[0].frame)->dst_addr) == rs1);
    }
    SECTION("removed: rs1 is gone and rs2 now has its index") {
        h.republish(config("      - {address: 203.0.113.12}\n"));
        CHECK(destination(1002) == rs2);
        CHECK(h.dataplane.templates().size() == 1);
        // Re-pointed at rs2 by address, not merely read through the index rs1 had.
        auto t = h.dataplane.templates().find_and_attach({rte_cpu_to_be_32(client), 0, 0}, 1000);
        REQUIRE(t);
        CHECK(h.dataplane.templates().target(t->index).address == rte_cpu_to_be_32(rs2));
        h.dataplane.templates().detach(t->index);
    }
}

TEST_CASE("a full connection table refuses new connections and keeps forwarding old ones") {
    WorkerHarness h(nat_config(), 1024);
    h.resolve(rs1, rs1_mac, 1);
    h.resolve(rs2, rs2_mac, 1);
    for (std::uint16_t i = 0; i < 1024; ++i)
        REQUIRE(h.send(ipv4_frame(syn_to_vip(static_cast<std::uint16_t>(10000 + i)))).size() == 1);
    CHECK(h.send(ipv4_frame(syn_to_vip(30000))).empty());
    CHECK(h.drops(DropReason::table_full) == 1);
    L4 ack = syn_to_vip(10000);
    ack.tcp_flags = RTE_TCP_ACK_FLAG;
    CHECK(h.send(ipv4_frame(ack)).size() == 1);
}

TEST_CASE("a burst carrying two SYNs of one new flow creates one connection") {
    NatHarness h;
    auto out = h.send({ipv4_frame(syn_to_vip()), ipv4_frame(syn_to_vip())});
    REQUIRE(out.size() == 2);
    // Copies: Catch binds references, and the packed header's field is not 4-byte aligned.
    const std::uint32_t first = ip_of(out[0].frame)->dst_addr;
    const std::uint32_t second = ip_of(out[1].frame)->dst_addr;
    CHECK(first == second);
    CHECK(h.dataplane.connections().size() == 1);
}
