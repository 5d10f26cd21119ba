// parse_frame on IPv6 frames, fixtures in Katran's style (katran/lib/testing): each case names
// the scapy expression that builds its frame, builds it with frame_builder.hpp and states the
// verdict. Addresses: client6 = 2001:db8:c::10, vip6 = 2001:db8:100::100; scapy's defaults
// elsewhere (Ether() to port0_mac from client_mac, TCP flags "S", seq 1000, window 65535);
// ('a'*n) stands for n payload bytes "abcd...", as frame_builder writes them.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include <rte_mbuf.h>

#include "dataplane/packet_parser.hpp"
#include "test/packet/frame_builder.hpp"
#include "test/packet/mbuf_frame.hpp"

using namespace lb::test;
using lb::dataplane::DropReason;
using lb::dataplane::FlowKey6;
using lb::dataplane::FrameKind;
using lb::dataplane::ParsedFrame;

namespace {

// What parse_frame said, with its pointers as offsets into the frame (the mbuf is gone).
struct Verdict {
    ParsedFrame f;
    std::ptrdiff_t ip6 = -1;
    std::ptrdiff_t l4 = -1;
};

// Parses `frame` in one mbuf, or in two chained ones when `first` is below its size (mbuf_of).
Verdict parse(const Bytes& frame, std::size_t first = SIZE_MAX, ParsedFrame reused = {}) {
    rte_mbuf* m = mbuf_of(frame, first);
    const auto* data = rte_pktmbuf_mtod(m, const std::uint8_t*);
    Verdict v{reused};
    lb::dataplane::parse_frame(m, v.f);
    const FrameKind k = v.f.kind;
    if (k == FrameKind::tcp6 || k == FrameKind::udp6 || k == FrameKind::icmp6)
        v.ip6 = reinterpret_cast<std::uint8_t*>(v.f.ip6) - data;
    if (k != FrameKind::drop && k != FrameKind::arp)
        v.l4 = v.f.l4 - data;
    rte_pktmbuf_free(m);
    return v;
}

DropReason dropped(const Bytes& frame, std::size_t first = SIZE_MAX) {
    const Verdict v = parse(frame, first);
    CHECK(v.f.kind == FrameKind::drop);
    return v.f.drop_reason;
}

// Ether()/IPv6(src=client6, dst=vip6, nh=protocol)/...: any upper layer; ipv6_frame builds a
// header for TCP, UDP and ICMPv6 only, payload bytes for the rest.
L6 over(std::uint8_t protocol, std::size_t payload = 0) {
    L6 p;
    p.protocol = protocol;
    p.payload = payload;
    return p;
}

// Ether()/IPv6(src=client6, dst=vip6)/UDP(sport=5353, dport=53)/('a'*10)
L6 udp6() {
    L6 p = over(IPPROTO_UDP, 10);
    p.sport = 5353;
    p.dport = 53;
    return p;
}

L6 with(L6 p, std::vector<Ipv6Extension> extensions) {
    p.extensions = std::move(extensions);
    return p;
}

Ipv6Extension hop_by_hop(std::size_t length = 8) {
    return ipv6_options(IPPROTO_HOPOPTS, length);
}

Ipv6Extension destination_options(std::size_t length = 8) {
    return ipv6_options(IPPROTO_DSTOPTS, length);
}

void check_key(const FlowKey6& k, std::uint8_t protocol, std::uint16_t sport, std::uint16_t dport) {
    CHECK(client6 == k.src);
    CHECK(vip6 == k.dst);
    CHECK(k.src_port == rte_cpu_to_be_16(sport));
    CHECK(k.dst_port == rte_cpu_to_be_16(dport));
    CHECK(k.protocol == protocol);
    CHECK((k.padding[0] | k.padding[1] | k.padding[2]) == 0);
}

} // namespace

TEST_CASE("IPv6 TCP, UDP and ICMPv6 are parsed, their 5-tuple in key6") {
    SECTION("Ether()/IPv6(src=client6, dst=vip6)/TCP(sport=40000, dport=80, flags='S')") {
        const Verdict v = parse(ipv6_frame(L6{}));
        REQUIRE(v.f.kind == FrameKind::tcp6);
        CHECK(v.ip6 == 14);
        CHECK(v.f.ip == nullptr); // ip is IPv4's only
        CHECK(v.l4 == 54);
        CHECK(v.f.l4_length == 20);
        CHECK(v.f.tcp_flags == RTE_TCP_SYN_FLAG);
        check_key(v.f.key6, IPPROTO_TCP, 40000, 80);
    }
    SECTION("Ether()/IPv6(src=client6, dst=vip6)/UDP(sport=5353, dport=53)/('a'*10)") {
        const Verdict v = parse(ipv6_frame(udp6()));
        REQUIRE(v.f.kind == FrameKind::udp6);
        CHECK(v.l4 == 54);
        CHECK(v.f.l4_length == 18);
        check_key(v.f.key6, IPPROTO_UDP, 5353, 53);
    }
    SECTION("Ether()/IPv6(src=client6, dst=vip6)/ICMPv6EchoRequest(id=77, seq=1)/('a'*56)") {
        const Verdict v = parse(ipv6_frame(over(IPPROTO_ICMPV6, 56)));
        REQUIRE(v.f.kind == FrameKind::icmp6);
        CHECK(v.ip6 == 14);
        CHECK(v.l4 == 54);
        CHECK(v.f.l4_length == 64);
    }
    SECTION("Ether()/IPv6()/UDP()/('a'*10), Ethernet padding after it: ignored, as for IPv4") {
        Bytes f = ipv6_frame(udp6());
        f.resize(f.size() + 20, 0xee);
        const Verdict v = parse(f);
        REQUIRE(v.f.kind == FrameKind::udp6);
        CHECK(v.f.l4_length == 18);
    }
}

TEST_CASE("IPv6 extension headers before the upper layer are skipped") {
    SECTION("Ether()/IPv6()/IPv6ExtHdrHopByHop()/TCP(flags='S')") {
        const Verdict v = parse(ipv6_frame(with(L6{}, {hop_by_hop()})));
        REQUIRE(v.f.kind == FrameKind::tcp6);
        CHECK(v.l4 == 54 + 8);
        CHECK(v.f.l4_length == 20); // the upper layer's, not the payload length
        check_key(v.f.key6, IPPROTO_TCP, 40000, 80);
    }
    SECTION("Ether()/IPv6()/IPv6ExtHdrDestOpt()/IPv6ExtHdrRouting(addresses=[..], segleft=0)/"
            "TCP(flags='PA')/('a'*30)") {
        L6 p = with(L6{}, {destination_options(), ipv6_routing(0)});
        p.tcp_flags = RTE_TCP_PSH_FLAG | RTE_TCP_ACK_FLAG;
        p.payload = 30;
        const Verdict v = parse(ipv6_frame(p));
        REQUIRE(v.f.kind == FrameKind::tcp6);
        CHECK(v.l4 == 54 + 8 + 24);
        CHECK(v.f.l4_length == 50);
        CHECK(v.f.tcp_flags == (RTE_TCP_PSH_FLAG | RTE_TCP_ACK_FLAG));
    }
    SECTION("Ether()/IPv6()/IPv6ExtHdrFragment(offset=0, m=0, id=0x1234)/UDP()/('a'*10): "
            "an atomic fragment (RFC 6946) is a whole datagram") {
        const Verdict v = parse(ipv6_frame(with(udp6(), {ipv6_fragment(0, false)})));
        REQUIRE(v.f.kind == FrameKind::udp6);
        CHECK(v.l4 == 54 + 8);
        CHECK(v.f.l4_length == 18);
        check_key(v.f.key6, IPPROTO_UDP, 5353, 53);
    }
    SECTION("Ether()/IPv6()/IPv6ExtHdrHopByHop(options=PadN 20)/IPv6ExtHdrDestOpt()/"
            "ICMPv6EchoRequest()") {
        const Verdict v =
            parse(ipv6_frame(with(over(IPPROTO_ICMPV6), {hop_by_hop(24), destination_options()})));
        REQUIRE(v.f.kind == FrameKind::icmp6);
        CHECK(v.l4 == 54 + 24 + 8);
        CHECK(v.f.l4_length == 8);
    }
    SECTION("Ether()/IPv6()/IPv6ExtHdrDestOpt()*8/TCP(): eight headers, the most walked") {
        const Verdict v = parse(ipv6_frame(with(L6{}, std::vector(8, destination_options()))));
        REQUIRE(v.f.kind == FrameKind::tcp6);
        CHECK(v.l4 == 54 + 64);
    }
}

TEST_CASE("IPv6 frames lb must not forward are dropped, each for its reason") {
    struct Case {
        const char* scapy;
        Bytes frame;
        DropReason reason;
    };
    const Bytes syn = ipv6_frame(L6{});
    auto edited = [](Bytes f, auto&& edit) {
        edit(f);
        return f;
    };
    const std::vector<Case> cases = {
        {"IPv6ExtHdrRouting(addresses=[..], segleft=1)/TCP(): we are a waypoint",
         ipv6_frame(with(L6{}, {ipv6_routing(1)})), DropReason::ipv6_routing_header},
        {"IPv6ExtHdrFragment(offset=0, m=1)/UDP(): a first fragment",
         ipv6_frame(with(udp6(), {ipv6_fragment(0, true)})), DropReason::fragment},
        {"IPv6ExtHdrFragment(offset=185, m=0)/Raw(): a last fragment",
         ipv6_frame(with(udp6(), {ipv6_fragment(185, false)})), DropReason::fragment},
        {"IPv6ExtHdrFragment(offset=185, m=1)/Raw(): a middle fragment",
         ipv6_frame(with(udp6(), {ipv6_fragment(185, true)})), DropReason::fragment},
        {"IPv6ExtHdrDestOpt()/IPv6ExtHdrHopByHop()/TCP(): hop-by-hop not first",
         ipv6_frame(with(L6{}, {destination_options(), hop_by_hop()})), DropReason::bad_ip_header},
        {"IPv6ExtHdrDestOpt()*9/TCP(): one extension header too many",
         ipv6_frame(with(L6{}, std::vector(9, destination_options()))), DropReason::bad_ip_header},
        {"IPv6ExtHdrHopByHop(len=10)/TCP(): an 88-byte header in a 28-byte payload",
         edited(ipv6_frame(with(L6{}, {hop_by_hop()})), [](Bytes& f) { f[54 + 1] = 10; }),
         DropReason::bad_ip_header},
        {"IPv6(plen=12)/IPv6ExtHdrHopByHop(len=1)/TCP(): a 16-byte header in a 12-byte "
         "payload, though the frame holds it",
         edited(ipv6_frame(with(L6{}, {hop_by_hop()})),
                [](Bytes& f) {
                    f[54 + 1] = 1;
                    ip6_of(f)->payload_len = rte_cpu_to_be_16(12);
                }),
         DropReason::bad_ip_header},
        {"IPv6(plen=4)/IPv6ExtHdrHopByHop(): less payload than any extension header",
         edited(ipv6_frame(with(L6{}, {hop_by_hop()})),
                [](Bytes& f) { ip6_of(f)->payload_len = rte_cpu_to_be_16(4); }),
         DropReason::bad_ip_header},
        {"IPv6(plen=0)/TCP(): a jumbogram's payload length",
         edited(syn, [](Bytes& f) { ip6_of(f)->payload_len = 0; }), DropReason::bad_ip_header},
        {"IPv6(plen=21)/TCP(): one byte more than the frame holds",
         edited(syn, [](Bytes& f) { ip6_of(f)->payload_len = rte_cpu_to_be_16(21); }),
         DropReason::bad_ip_header},
        {"IPv6(version=4)/TCP() in an 0x86dd frame",
         edited(syn, [](Bytes& f) { f[14] = static_cast<std::uint8_t>(0x40 | (f[14] & 0x0f)); }),
         DropReason::bad_ip_header},
        {"UDP(chksum=0): no checksum, forbidden over IPv6 (RFC 8200 8.1)",
         edited(ipv6_frame(udp6()), [](Bytes& f) { f[54 + 6] = f[54 + 7] = 0; }),
         DropReason::bad_l4_header},
        {"UDP(len=19) in an 18-byte upper layer",
         edited(ipv6_frame(udp6()), [](Bytes& f) { f[54 + 5] = 19; }), DropReason::bad_l4_header},
        {"TCP(dataofs=15): a 60-byte header in a 20-byte segment",
         edited(syn, [](Bytes& f) { f[54 + 12] = 0xf0; }), DropReason::bad_l4_header},
        {"TCP(dataofs=4)", edited(syn, [](Bytes& f) { f[54 + 12] = 0x40; }),
         DropReason::bad_l4_header},
        {"IPv6(plen=12)/TCP(): a TCP header cut by the payload length",
         edited(syn, [](Bytes& f) { ip6_of(f)->payload_len = rte_cpu_to_be_16(12); }),
         DropReason::truncated},
        {"IPv6(plen=2)/ICMPv6(): less than type, code and checksum",
         edited(ipv6_frame(over(IPPROTO_ICMPV6)),
                [](Bytes& f) { ip6_of(f)->payload_len = rte_cpu_to_be_16(2); }),
         DropReason::truncated},
        {"Ether()/IPv6() cut at 40 bytes: no whole fixed header",
         Bytes(syn.begin(), syn.begin() + 40), DropReason::truncated},
        {"IPv6(nh=50)/Raw('a'*16): ESP", ipv6_frame(over(IPPROTO_ESP, 16)), DropReason::no_service},
        {"IPv6(nh=51)/Raw('a'*16): AH", ipv6_frame(over(IPPROTO_AH, 16)), DropReason::no_service},
        {"IPv6ExtHdrHopByHop(nh=59): no next header",
         ipv6_frame(with(over(IPPROTO_NONE), {hop_by_hop()})), DropReason::no_service},
    };
    for (const auto& c : cases) {
        INFO(c.scapy);
        CHECK(dropped(c.frame) == c.reason);
    }
}

TEST_CASE("IPv6 headers are read from the first segment only") {
    // Ether()/IPv6()/IPv6ExtHdrHopByHop()/IPv6ExtHdrDestOpt(len=1)/TCP(flags='S')/('a'*100):
    // fixed header 14-54, hop-by-hop 54-62, destination options 62-78, TCP 78-98.
    L6 p = with(L6{}, {hop_by_hop(), destination_options(16)});
    p.payload = 100;
    const Bytes f = ipv6_frame(p);
    REQUIRE(parse(f).f.kind == FrameKind::tcp6);
    SECTION("cut in the fixed header") {
        CHECK(dropped(f, 50) == DropReason::truncated);
    }
    SECTION("cut before the first extension header's length byte") {
        CHECK(dropped(f, 55) == DropReason::truncated);
    }
    SECTION("cut inside the second extension header") {
        CHECK(dropped(f, 70) == DropReason::truncated);
    }
    SECTION("cut right after the chain, before the TCP header") {
        CHECK(dropped(f, 78) == DropReason::truncated);
    }
    SECTION("cut inside the TCP header") {
        CHECK(dropped(f, 90) == DropReason::truncated);
    }
    SECTION("cut in the payload: the headers are whole, the upper layer spans both segments") {
        const Verdict v = parse(f, 120);
        REQUIRE(v.f.kind == FrameKind::tcp6);
        CHECK(v.l4 == 78);
        CHECK(v.f.l4_length == 120);
    }
}

TEST_CASE("IPv4 frames parse as before, and frames of neither family are not_ip") {
    L4 q;
    q.src = ipv4(198, 51, 100, 10);
    q.dst = ipv4(198, 51, 100, 100);
    q.sport = 40000;
    q.dport = 80;
    q.payload = 12;
    // Ether()/IP(src='198.51.100.10', dst='198.51.100.100')/TCP(sport=40000, dport=80)/('a'*12),
    // parsed into a frame that last held an IPv6 key: the union's IPv4 key is whole again.
    ParsedFrame reused = parse(ipv6_frame(L6{})).f;
    const Verdict v = parse(ipv4_frame(q), SIZE_MAX, reused);
    REQUIRE(v.f.kind == FrameKind::tcp);
    CHECK(v.f.ip != nullptr);
    CHECK(v.l4 == 34);
    CHECK(v.f.l4_length == 32);
    CHECK(v.f.tcp_flags == RTE_TCP_SYN_FLAG);
    lb::dataplane::FlowKey expected;
    expected.src_ip = rte_cpu_to_be_32(q.src);
    expected.dst_ip = rte_cpu_to_be_32(q.dst);
    expected.src_port = rte_cpu_to_be_16(40000);
    expected.dst_port = rte_cpu_to_be_16(80);
    expected.protocol = IPPROTO_TCP;
    CHECK(v.f.key == expected);

    // And back: an IPv6 key after an IPv4 one holds nothing of it.
    const Verdict w = parse(ipv6_frame(udp6()), SIZE_MAX, v.f);
    REQUIRE(w.f.kind == FrameKind::udp6);
    check_key(w.f.key6, IPPROTO_UDP, 5353, 53);

    // Ether()/Dot1Q(vlan=7)/IP()/TCP(): VLAN-tagged, and LLDP (0x88cc).
    for (std::uint16_t type : {std::uint16_t{RTE_ETHER_TYPE_VLAN}, std::uint16_t{0x88cc}}) {
        Bytes f = ipv4_frame(q);
        reinterpret_cast<rte_ether_hdr*>(f.data())->ether_type = rte_cpu_to_be_16(type);
        CHECK(dropped(f) == DropReason::not_ip);
    }
}

TEST_CASE("frame_builder's IPv6 frames are scapy's, byte for byte (checksums included)") {
    auto hex = [](std::string_view text) {
        Bytes out;
        for (std::size_t i = 0; i + 1 < text.size(); i += 2)
            out.push_back(
                static_cast<std::uint8_t>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
        return out;
    };
    // e = Ether(dst='02:00:00:00:00:01', src='02:c1:00:00:00:01')
    // ip = IPv6(src='2001:db8:c::10', dst='2001:db8:100::100', hlim=64)
    // raw(e/ip/IPv6ExtHdrHopByHop()/TCP(sport=40000, dport=80, seq=1000, flags='S',
    //     window=65535))
    CHECK(ipv6_frame(with(L6{}, {hop_by_hop()})) ==
          hex("02000000000102c10000000186dd60000000001c004020010db8000c0000000000000000001020010db8"
              "01000000000000000000010006000104000000009c400050000003e8000000005002ffffb1dc0000"));
    // raw(e/ip/IPv6ExtHdrFragment(id=0x1234)/UDP(sport=5353, dport=53)/b'abcdefghij')
    CHECK(ipv6_frame(with(udp6(), {ipv6_fragment(0, false)})) ==
          hex("02000000000102c10000000186dd60000000001a2c4020010db8000c0000000000000000001020010db8"
              "010000000000000000000100110000000000123414e900350012921e6162636465666768696a"));
    // raw(e/ip/ICMPv6EchoRequest(id=77, seq=1)/b'abcd'), padded to Ethernet's 60 bytes: none
    CHECK(ipv6_frame(over(IPPROTO_ICMPV6, 4)) ==
          hex("02000000000102c10000000186dd60000000000c3a4020010db8000c0000000000000000001020010db8"
              "01000000000000000000010080005d16004d000161626364"));
}

TEST_CASE("FlowKey6 equality covers every byte of the tuple") {
    FlowKey6 a;
    std::memcpy(a.src, client6.b, 16);
    std::memcpy(a.dst, vip6.b, 16);
    a.src_port = rte_cpu_to_be_16(40000);
    a.dst_port = rte_cpu_to_be_16(80);
    a.protocol = IPPROTO_TCP;
    CHECK(a == a);
    for (std::size_t byte = 0; byte < 37; ++byte) { // all but the padding
        FlowKey6 b = a;
        reinterpret_cast<std::uint8_t*>(&b)[byte] ^= 0x01;
        INFO(byte);
        CHECK_FALSE(a == b);
    }
}
