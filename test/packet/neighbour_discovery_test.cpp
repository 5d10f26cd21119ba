// Neighbour Discovery's validation (RFC 4861 7.1.1, 7.1.2) and the advertisement built in place
// of a solicitation, fixtures in Katran's style (katran/lib/testing): each case names the scapy
// expression that builds its frame, builds it with frame_builder.hpp's nd_frame and states the
// verdict. Addresses: client6 = 2001:db8:c::10, vip6 = 2001:db8:100::100, whose solicited-node
// group is ff02::1:ff00:100 (33:33:ff:00:01:00); port0_mac = 02:00:00:00:00:01, client_mac =
// 02:c1:00:00:00:01. Every NS and NA is sent with hlim=255 unless a case says otherwise.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include <rte_mbuf.h>

#include "dataplane/neighbour_discovery.hpp"
#include "dataplane/packet_parser.hpp"
#include "test/packet/frame_builder.hpp"
#include "test/packet/mbuf_frame.hpp"

using namespace lb::test;
using namespace lb::dataplane;

namespace {

// A frame as the worker holds it: in an mbuf (mbuf_of: two chained ones when `first` is below
// its size), parsed.
struct Received {
    rte_mbuf* m = nullptr;
    ParsedFrame f;

    explicit Received(const Bytes& frame, std::size_t first = SIZE_MAX) : m(mbuf_of(frame, first)) {
        parse_frame(m, f);
    }
    Received(const Received&) = delete;
    Received& operator=(const Received&) = delete;
    ~Received() { rte_pktmbuf_free(m); }

    // The first segment's bytes.
    Bytes bytes() const {
        const auto* data = rte_pktmbuf_mtod(m, const std::uint8_t*);
        return Bytes(data, data + rte_pktmbuf_data_len(m));
    }
};

bool solicitation_accepted(const Bytes& frame, NeighbourSolicitation* out = nullptr) {
    Received r(frame);
    REQUIRE(r.f.kind == FrameKind::icmp6);
    NeighbourSolicitation ns;
    const bool accepted = parse_neighbour_solicitation(r.m, r.f, ns);
    if (out != nullptr) // pointers into the frame: only whether they were set survives
        *out = ns;
    return accepted;
}

bool advertisement_accepted(const Bytes& frame) {
    Received r(frame);
    REQUIRE(r.f.kind == FrameKind::icmp6);
    NeighbourAdvertisement na;
    return parse_neighbour_advertisement(r.m, r.f, na);
}

// Rewrites the ICMPv6 checksum of an nd_frame without extension headers after an edit.
void reseal(Bytes& f) {
    auto* ip = ip6_of(f);
    std::uint8_t* icmp = f.data() + 54;
    icmp[2] = icmp[3] = 0;
    const std::size_t length = rte_be_to_cpu_16(ip->payload_len);
    const std::uint16_t sum = ipv6_l4_checksum(ip, icmp, length, IPPROTO_ICMPV6);
    std::memcpy(icmp + 2, &sum, 2);
}

constexpr Ipv6Address unspecified = ipv6(0, 0, 0, 0, 0, 0, 0, 0);
constexpr Ipv6Address all_nodes = ipv6(0xff02, 0, 0, 0, 0, 0, 0, 1);
constexpr Mac all_nodes_mac{{0x33, 0x33, 0, 0, 0, 1}};
constexpr Ipv6Address gateway6 = ipv6(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 1);
constexpr Ipv6Address node6 = ipv6(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 2);
constexpr std::uint8_t flag_r = 0x80, flag_s = 0x40, flag_o = 0x20;

// Ether(src=client_mac, dst='33:33:ff:00:01:00')/IPv6(src=client6, dst='ff02::1:ff00:100')/
// ICMPv6ND_NS(tgt=vip6)/ICMPv6NDOptSrcLLAddr(lladdr=client_mac)
Nd solicitation() {
    Nd p;
    p.options = {nd_link_layer_option(1, client_mac)};
    return p;
}

// Ether(src=client_mac, dst='33:33:ff:00:01:00')/IPv6(src='::', dst='ff02::1:ff00:100')/
// ICMPv6ND_NS(tgt=vip6)
Nd dad_probe() {
    Nd p;
    p.src = unspecified;
    return p;
}

// Ether(src=rs1_mac, dst=port0_mac)/IPv6(src=gateway6, dst=node6)/
// ICMPv6ND_NA(tgt=gateway6, R=1, S=1, O=1)/ICMPv6NDOptDstLLAddr(lladdr=rs1_mac): the answer
// to the resolver's solicitation.
Nd advertisement() {
    Nd p;
    p.type = 136;
    p.flags = flag_r | flag_s | flag_o;
    p.src = gateway6;
    p.dst = node6;
    p.target = gateway6;
    p.options = {nd_link_layer_option(2, rs1_mac)};
    p.src_mac = rs1_mac;
    p.dst_mac = port0_mac;
    return p;
}

Nd edited(Nd p, auto&& edit) {
    edit(p);
    return p;
}

Bytes hex(std::string_view text) {
    Bytes out;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2)
        out.push_back(
            static_cast<std::uint8_t>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
    return out;
}

// make_neighbour_advertisement's output, field by field: Ether(src=from, dst=to_mac)/
// IPv6(src=vip6, dst=to, hlim=255, tc=0, fl=0, plen=32)/ICMPv6ND_NA(tgt=vip6, flags)/
// ICMPv6NDOptDstLLAddr(lladdr=from), the checksum recomputed here with ipv6_l4_checksum.
void check_advertisement(Bytes out, Mac from, Mac to_mac, const Ipv6Address& to,
                         std::uint8_t flags) {
    REQUIRE(out.size() == 86);
    const auto* eth = eth_of(out);
    CHECK(to_mac == eth->dst_addr);
    CHECK(from == eth->src_addr);
    CHECK(eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6));
    auto* ip = ip6_of(out);
    CHECK(rte_be_to_cpu_32(ip->vtc_flow) == 6u << 28); // by value: the field is misaligned
    CHECK(ip->payload_len == rte_cpu_to_be_16(32));
    CHECK(ip->proto == IPPROTO_ICMPV6);
    CHECK(ip->hop_limits == 255);
    CHECK(vip6 == ip->src_addr);
    CHECK(to == ip->dst_addr);
    std::uint8_t* icmp = out.data() + 54;
    CHECK(icmp[0] == 136);
    CHECK(icmp[1] == 0);
    CHECK(icmp[4] == flags);
    CHECK((icmp[5] | icmp[6] | icmp[7]) == 0); // reserved
    CHECK(vip6 == icmp + 8);
    CHECK(icmp[24] == 2); // target link-layer address
    CHECK(icmp[25] == 1); // 8 bytes
    CHECK(std::memcmp(icmp + 26, from.b, 6) == 0);
    std::uint16_t stored;
    std::memcpy(&stored, icmp + 2, 2);
    icmp[2] = icmp[3] = 0;
    CHECK(stored == ipv6_l4_checksum(ip, icmp, 32, IPPROTO_ICMPV6));
}

// Answers `ns_frame` as the worker would for vip6 from port0_mac; the frame afterwards.
Bytes answered(const Bytes& ns_frame, bool router = true) {
    Received r(ns_frame);
    REQUIRE(r.f.kind == FrameKind::icmp6);
    NeighbourSolicitation ns;
    REQUIRE(parse_neighbour_solicitation(r.m, r.f, ns));
    REQUIRE(make_neighbour_advertisement(r.m, r.f, ns, port0_mac.addr(), router));
    CHECK(rte_pktmbuf_pkt_len(r.m) == 86);
    return r.bytes();
}

} // namespace

TEST_CASE("a Neighbour Solicitation for a VIP is answered in place") {
    SECTION("solicitation(): NA to the solicitor at its SLLA, S=1 O=1, R as asked, TLLA") {
        NeighbourSolicitation ns;
        REQUIRE(solicitation_accepted(nd_frame(solicitation()), &ns));
        CHECK(ns.source_link_layer != nullptr);
        CHECK_FALSE(ns.duplicate_address_detection);
        const Bytes out = answered(nd_frame(solicitation()));
        check_advertisement(out, port0_mac, client_mac, client6, flag_r | flag_s | flag_o);
        check_advertisement(answered(nd_frame(solicitation()), false), port0_mac, client_mac,
                            client6, flag_s | flag_o);
        // The same bytes written out, the checksum (0x065b) summed by a Python one's complement
        // sum over the RFC 8200 pseudo-header, independent of both C++ sums: raw(Ether(
        // src=port0_mac, dst=client_mac)/IPv6(src=vip6, dst=client6, hlim=255)/ICMPv6ND_NA(
        // tgt=vip6, R=1, S=1, O=1)/ICMPv6NDOptDstLLAddr(lladdr=port0_mac)).
        CHECK(out == hex("02c10000000102000000000186dd6000000000203aff20010db801000000000000000000"
                         "010020010db8000c000000000000000000108800065be000000020010db80100000000"
                         "000000000001000201020000000001"));
    }
    SECTION("DAD: Ether()/IPv6(src='::', dst='ff02::1:ff00:100')/ICMPv6ND_NS(tgt=vip6): "
            "NA to ff02::1 at 33:33:00:00:00:01, S=0") {
        NeighbourSolicitation ns;
        REQUIRE(solicitation_accepted(nd_frame(dad_probe()), &ns));
        CHECK(ns.source_link_layer == nullptr);
        CHECK(ns.duplicate_address_detection);
        // A 78-byte solicitation grows to the 86-byte advertisement.
        const Bytes out = answered(nd_frame(dad_probe()));
        check_advertisement(out, port0_mac, all_nodes_mac, all_nodes, flag_r | flag_o);
        // raw(Ether(src=port0_mac, dst='33:33:00:00:00:01')/IPv6(src=vip6, dst='ff02::1',
        // hlim=255)/ICMPv6ND_NA(tgt=vip6, R=1, S=0, O=1)/ICMPv6NDOptDstLLAddr(lladdr=port0_mac)),
        // checksum 0x752c summed as above.
        CHECK(out == hex("33330000000102000000000186dd6000000000203aff20010db801000000000000000000"
                         "0100ff0200000000000000000000000000018800752ca000000020010db80100000000"
                         "000000000001000201020000000001"));
    }
    SECTION("no SLLA: Ether(src=client_mac, dst=port0_mac)/IPv6(src=client6, dst=vip6)/"
            "ICMPv6ND_NS(tgt=vip6), a unicast refresh: answered at the frame's source MAC") {
        const Nd p = edited(Nd{}, [](Nd& q) {
            q.dst = vip6;
            q.dst_mac = port0_mac;
        });
        check_advertisement(answered(nd_frame(p)), port0_mac, client_mac, client6,
                            flag_r | flag_s | flag_o);
    }
    SECTION("Ether(src=client_mac)/IPv6()/ICMPv6ND_NS(tgt=vip6)/ICMPv6NDOptSrcLLAddr(rs1_mac): "
            "answered at the SLLA, as the solicitor asked") {
        const Nd p = edited(Nd{}, [](Nd& q) { q.options = {nd_link_layer_option(1, rs1_mac)}; });
        check_advertisement(answered(nd_frame(p)), port0_mac, rs1_mac, client6,
                            flag_r | flag_s | flag_o);
    }
    SECTION("Ether()/IPv6()/ICMPv6ND_NS(tgt=vip6)/ICMPv6NDOptUnknown(type=14, len=1)/"
            "ICMPv6NDOptSrcLLAddr(client_mac): a nonce skipped, the 94-byte frame cut to 86") {
        const Nd p = edited(solicitation(), [](Nd& q) {
            q.options.insert(q.options.begin(), Bytes{14, 1, 1, 2, 3, 4, 5, 6});
        });
        REQUIRE(nd_frame(p).size() == 94);
        check_advertisement(answered(nd_frame(p)), port0_mac, client_mac, client6,
                            flag_r | flag_s | flag_o);
    }
    SECTION("Ether()/IPv6()/IPv6ExtHdrHopByHop()/ICMPv6ND_NS(tgt=vip6)/ICMPv6NDOptSrcLLAddr(): "
            "parsed after the chain, answered without it") {
        const Nd p =
            edited(solicitation(), [](Nd& q) { q.extensions = {ipv6_options(IPPROTO_HOPOPTS)}; });
        NeighbourSolicitation ns;
        REQUIRE(solicitation_accepted(nd_frame(p), &ns));
        CHECK(ns.source_link_layer != nullptr);
        const Bytes out = answered(nd_frame(p));
        check_advertisement(out, port0_mac, client_mac, client6, flag_r | flag_s | flag_o);
        CHECK(out == answered(nd_frame(solicitation())));
    }
}

TEST_CASE("Neighbour Solicitations RFC 4861 7.1.1 discards are refused") {
    struct Case {
        const char* scapy;
        Bytes frame;
    };
    auto frame = [](Bytes f, auto&& edit) {
        edit(f);
        return f;
    };
    const std::vector<Case> cases = {
        {"IPv6(hlim=254)/ICMPv6ND_NS(): routed, so not from the link",
         nd_frame(edited(solicitation(), [](Nd& p) { p.hop_limit = 254; }))},
        {"ICMPv6ND_NS(code=1)", nd_frame(edited(solicitation(), [](Nd& p) { p.code = 1; }))},
        {"ICMPv6ND_NS(cksum=right ^ 1)",
         frame(nd_frame(solicitation()), [](Bytes& f) { f[54 + 3] ^= 1; })},
        {"IPv6(plen=23)/ICMPv6ND_NS() cut to 23 bytes, checksum over those",
         frame(nd_frame(Nd{}),
               [](Bytes& f) {
                   ip6_of(f)->payload_len = rte_cpu_to_be_16(23);
                   f.pop_back();
                   reseal(f);
               })},
        {"ICMPv6ND_NS(tgt='ff02::1'): a multicast target",
         nd_frame(edited(solicitation(), [](Nd& p) { p.target = all_nodes; }))},
        {"ICMPv6ND_NS()/ICMPv6NDOptSrcLLAddr(len=0)",
         nd_frame(edited(solicitation(), [](Nd& p) { p.options[0][1] = 0; }))},
        {"ICMPv6ND_NS()/ICMPv6NDOptSrcLLAddr(len=2): 16 bytes claimed, 8 there",
         nd_frame(edited(solicitation(), [](Nd& p) { p.options[0][1] = 2; }))},
        {"ICMPv6ND_NS()/ICMPv6NDOptSrcLLAddr()/Raw(b'\\x01'): a last option without its length",
         nd_frame(edited(solicitation(), [](Nd& p) { p.options.push_back(Bytes{1}); }))},
        {"ICMPv6ND_NS()/ICMPv6NDOptSrcLLAddr(len=2)/Raw(8 bytes): not Ethernet's address",
         nd_frame(edited(solicitation(),
                         [](Nd& p) {
                             p.options[0][1] = 2;
                             p.options[0].resize(16, 0);
                         }))},
        {"IPv6(src='::', dst='ff02::1:ff00:100')/ICMPv6ND_NS()/ICMPv6NDOptSrcLLAddr(): DAD "
         "with an SLLA",
         nd_frame(edited(solicitation(), [](Nd& p) { p.src = unspecified; }))},
        {"IPv6(src='::', dst=vip6)/ICMPv6ND_NS(): DAD not to a solicited-node group",
         nd_frame(edited(dad_probe(), [](Nd& p) { p.dst = vip6; }))},
        {"IPv6(src='::', dst='ff02::1')/ICMPv6ND_NS(): DAD to all nodes",
         nd_frame(edited(dad_probe(), [](Nd& p) { p.dst = all_nodes; }))},
        {"IPv6(src='ff02::1')/ICMPv6ND_NS(): a multicast source",
         nd_frame(edited(solicitation(), [](Nd& p) { p.src = all_nodes; }))},
        {"ICMPv6ND_NA() handed to the NS parser",
         nd_frame(edited(advertisement(), [](Nd& p) { p.flags = 0; }))},
    };
    for (const auto& c : cases) {
        INFO(c.scapy);
        CHECK_FALSE(solicitation_accepted(c.frame));
    }
}

TEST_CASE("a Neighbour Solicitation is read from the first segment only") {
    // Ether()/IPv6()/ICMPv6ND_NS()/ICMPv6NDOptSrcLLAddr() with 20 bytes of Ethernet padding:
    // the message is bytes 54-86.
    Bytes f = nd_frame(solicitation());
    f.resize(f.size() + 20, 0);
    NeighbourSolicitation ns;
    SECTION("cut inside the option: refused") {
        Received r(f, 80);
        REQUIRE(r.f.kind == FrameKind::icmp6);
        CHECK_FALSE(parse_neighbour_solicitation(r.m, r.f, ns));
    }
    SECTION("cut in the padding: accepted, but not answered in a chain, the frame untouched") {
        Received r(f, 90);
        REQUIRE(parse_neighbour_solicitation(r.m, r.f, ns));
        const Bytes before = r.bytes();
        CHECK_FALSE(make_neighbour_advertisement(r.m, r.f, ns, port0_mac.addr(), true));
        CHECK(r.bytes() == before);
        CHECK(rte_pktmbuf_pkt_len(r.m) == f.size());
    }
}

TEST_CASE("Neighbour Advertisements are validated as RFC 4861 7.1.2 says") {
    SECTION("advertisement(): accepted, its flags and TLLA read") {
        const Bytes frame = nd_frame(advertisement());
        Received r(frame);
        NeighbourAdvertisement na;
        REQUIRE(parse_neighbour_advertisement(r.m, r.f, na));
        CHECK(gateway6 == na.target);
        REQUIRE(na.target_link_layer != nullptr);
        CHECK(std::memcmp(na.target_link_layer, rs1_mac.b, 6) == 0);
        CHECK(na.router);
        CHECK(na.solicited);
        CHECK(na.override);
    }
    SECTION("IPv6(dst='ff02::1')/ICMPv6ND_NA(tgt=gateway6, S=0, O=1)/ICMPv6NDOptDstLLAddr(): "
            "an unsolicited announcement, accepted") {
        const Bytes frame = nd_frame(edited(advertisement(), [](Nd& p) {
            p.dst = all_nodes;
            p.dst_mac = all_nodes_mac;
            p.flags = flag_o;
        }));
        Received r(frame);
        NeighbourAdvertisement na;
        REQUIRE(parse_neighbour_advertisement(r.m, r.f, na));
        CHECK_FALSE(na.router);
        CHECK_FALSE(na.solicited);
        CHECK(na.override);
    }
    SECTION("ICMPv6ND_NA(tgt=gateway6, S=1, O=0) without option: accepted, no TLLA") {
        const Bytes frame = nd_frame(edited(advertisement(), [](Nd& p) {
            p.flags = flag_s;
            p.options.clear();
        }));
        Received r(frame);
        NeighbourAdvertisement na;
        REQUIRE(parse_neighbour_advertisement(r.m, r.f, na));
        CHECK(na.target_link_layer == nullptr);
        CHECK_FALSE(na.override);
    }
    SECTION("refusals") {
        struct Case {
            const char* scapy;
            Bytes frame;
        };
        const std::vector<Case> cases = {
            {"IPv6(dst='ff02::1')/ICMPv6ND_NA(S=1): a solicited answer to a group",
             nd_frame(edited(advertisement(), [](Nd& p) { p.dst = all_nodes; }))},
            {"IPv6(hlim=254)/ICMPv6ND_NA()",
             nd_frame(edited(advertisement(), [](Nd& p) { p.hop_limit = 254; }))},
            {"ICMPv6ND_NA(code=1)", nd_frame(edited(advertisement(), [](Nd& p) { p.code = 1; }))},
            {"ICMPv6ND_NA(tgt='ff02::1')",
             nd_frame(edited(advertisement(), [](Nd& p) { p.target = all_nodes; }))},
            {"ICMPv6ND_NA()/ICMPv6NDOptDstLLAddr(len=0)",
             nd_frame(edited(advertisement(), [](Nd& p) { p.options[0][1] = 0; }))},
            {"ICMPv6ND_NS() handed to the NA parser", nd_frame(solicitation())},
        };
        for (const auto& c : cases) {
            INFO(c.scapy);
            CHECK_FALSE(advertisement_accepted(c.frame));
        }
    }
}

TEST_CASE("icmp6_checksum agrees with frame_builder's RFC 8200 sum") {
    // Ether()/IPv6()/IPv6ExtHdrHopByHop()/ICMPv6ND_NS()/ICMPv6NDOptSrcLLAddr(): the
    // pseudo-header's length is the message's, 32, not the payload's 40.
    Bytes f = nd_frame(
        edited(solicitation(), [](Nd& p) { p.extensions = {ipv6_options(IPPROTO_HOPOPTS)}; }));
    auto* ip = ip6_of(f);
    std::uint8_t* icmp = f.data() + 62;
    CHECK(icmp6_checksum_ok(ip, icmp, 32));
    std::uint16_t stored;
    std::memcpy(&stored, icmp + 2, 2);
    icmp[2] = icmp[3] = 0;
    CHECK(icmp6_checksum(ip, icmp, 32) == stored);
    CHECK_FALSE(icmp6_checksum_ok(ip, icmp, 32));
}
