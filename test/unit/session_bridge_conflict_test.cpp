// SessionBridge when copies meet: two peers, older copies, templates, unbound entries, dumps, the
// sweep, deferral, tunnels and deletions (the fixture:
// modules/replication/testing/session_bridge_fixture.hpp).
#include <catch2/catch.hpp>

#include "modules/replication/testing/session_bridge_fixture.hpp"

using namespace bridge_fixture;

// Issue 14: with several peers behind ECMP, a flow the router moved was forwarded by two of
// them, and both send it. Whatever the order they arrive in, B keeps the copy last seen latest.
TEST_CASE("bridge: two peers send the same connection: the one last seen latest wins") {
    Node a("sbA_", false);
    Node c("sbC_", false);
    Node b("sbB_", true);
    const FlowKey key = flow("198.51.100.7", 40009, "198.51.100.100", 80);
    // A forwarded it to .11 first; C, 5 s later, to .12 (a SYN reusing the port, say).
    const auto ia = a.connect(spec_on(a, key, "203.0.113.11", 8080, conn_nat),
                              TcpState::established, now_a, 900'000);
    const auto ic = c.connect(spec_on(c, key, "203.0.113.12", 8080, conn_nat),
                              TcpState::established, now_a + 5'000, 900'000);
    const auto from_a = via_wire(describe(a, ia, now_a + 5'000));
    const auto from_c = via_wire(describe(c, ic, now_a + 5'000));
    SECTION("the newer first: the older is superseded") {
        apply_all(b, from_c, now_b);
        apply_all(b, from_a, now_b);
        CHECK(b.bridge.counters().superseded == 1);
        CHECK(b.bridge.counters().applied == 1);
    }
    SECTION("the older first: the newer replaces it") {
        apply_all(b, from_a, now_b);
        apply_all(b, from_c, now_b);
        CHECK(b.bridge.counters().superseded == 0);
        CHECK(b.bridge.counters().applied == 2);
    }
    CHECK(b.table().size() == 1);
    const Connection& kept = b.at(key);
    CHECK(kept.rs_address == addr("203.0.113.12"));
    CHECK(expiry(kept) == now_b + 900'000);
    CHECK(b.dataplane.load().get(b.real_server(key.dst_ip, addr("203.0.113.11"))) == 0);
    CHECK(b.dataplane.load().get(b.real_server(key.dst_ip, addr("203.0.113.12"))) == 1);
}

TEST_CASE("bridge: a peer's older copy leaves the connection this node forwards alone") {
    Node a("sbA_", false);
    Node b("sbB_", true);
    const FlowKey key = flow("198.51.100.7", 40010, "198.51.100.100", 80);
    const auto ia = a.connect(spec_on(a, key, "203.0.113.11", 8080, conn_nat),
                              TcpState::established, now_a, 900'000);
    apply_all(b, describe(a, ia, now_a), now_b);
    // The flow moved to B, which has forwarded it since; A's copy, idle, is resent (a refresh).
    b.at(key).last_seen_ms.store(now_b + 60'000);
    apply_all(b, describe(a, ia, now_a + 61'000), now_b + 61'000);
    CHECK(b.bridge.counters().superseded == 1);
    CHECK(expiry(b.at(key)) == now_b + 60'000 + 900'000);
    // A saw its FIN after B's last packet: that is news, and it is applied.
    Connection& ca = a.table().at(ia);
    ca.state.store(TcpState::fin_wait);
    ca.timeout_ms.store(120'000);
    ca.last_seen_ms.store(now_a + 62'000);
    apply_all(b, describe(a, ia, now_a + 62'000), now_b + 62'000);
    CHECK(b.at(key).state.load() == TcpState::fin_wait);
}

TEST_CASE("bridge: two peers' templates for one client: the one used latest wins") {
    Node a("sbA_", false);
    Node c("sbC_", false);
    Node b("sbB_", true);
    const std::uint32_t netmask = addr("255.255.255.0");
    const std::uint32_t vip = addr("198.51.100.103");
    auto make = [&](Node& n, const char* rs, std::uint32_t last_used) {
        const std::uint16_t service = n.service(vip);
        const std::uint16_t member = n.real_server(vip, addr(rs));
        const auto t = n.dataplane.templates().create_and_attach(
            {addr("198.51.100.77") & netmask, service, 0}, {member, port(443), addr(rs)}, last_used,
            60'000);
        REQUIRE(t);
        n.dataplane.templates().detach(t->index);
        std::vector<Entry> out;
        n.bridge.describe_event(SyncEvent::make(SyncEventKind::persistence_template, t->index),
                                now_a + 10'000, out);
        REQUIRE(out.size() == 1);
        return via_wire(out);
    };
    const auto from_a = make(a, "203.0.113.21", now_a);         // 50 s left
    const auto from_c = make(c, "203.0.113.22", now_a + 9'000); // 59 s left
    SECTION("the newer first") {
        apply_all(b, from_c, now_b);
        apply_all(b, from_a, now_b);
        CHECK(b.bridge.counters().superseded == 1);
    }
    SECTION("the older first") {
        apply_all(b, from_a, now_b);
        apply_all(b, from_c, now_b);
        CHECK(b.bridge.counters().superseded == 0);
    }
    const auto t = b.dataplane.templates().find({addr("198.51.100.0"), b.service(vip), 0});
    REQUIRE(t);
    CHECK(b.dataplane.templates().target(*t).address == addr("203.0.113.22"));
}

TEST_CASE("bridge: entries B cannot bind are counted and left out") {
    Node b("sbB_", true);
    wire::ConnectionEntry good;
    good.flow = {6, {addr("198.51.100.7"), port(40006)}, {addr("198.51.100.100"), port(80)}};
    good.service = {addr("198.51.100.100"), 6, false, port(80)};
    good.real_server = {addr("203.0.113.11"), port(8080)};
    good.tcp_state = static_cast<std::uint8_t>(TcpState::established);
    good.flags = wire::entry_nat;
    good.remaining_ms = 1'000;

    auto no_vip = good;
    no_vip.service.vip = addr("198.51.100.199");
    no_vip.flow.virtual_endpoint.address = addr("198.51.100.199");
    auto no_port = good;
    no_port.service.port = port(8081);
    auto no_server = good;
    no_server.real_server = {addr("203.0.113.99"), port(8080)};
    auto no_interface = good;
    no_interface.interface = 2; // two interfaces: 0 and 1
    wire::TemplateEntry not_persistent{addr("198.51.100.0"), 24, good.service, good.real_server,
                                       1'000};
    wire::FtpStateEntry no_control;
    no_control.control = good.flow;

    apply_all(b, {no_vip, no_port, no_server, no_interface, not_persistent, no_control}, now_b);
    CHECK(b.bridge.counters().unbound == 6);
    CHECK(b.bridge.counters().applied == 0);
    CHECK(b.table().size() == 0);
    CHECK(b.dataplane.templates().size() == 0);

    b.bridge.apply(good, now_b); // the same entry, bound, is installed
    CHECK(b.bridge.counters().applied == 1);
    CHECK(b.table().size() == 1);
}

TEST_CASE("bridge: a dump walks templates first, then every replicated connection once") {
    Node a("sbA_", false);
    const std::uint32_t netmask = addr("255.255.255.0");
    const std::uint16_t sticky = a.service(addr("198.51.100.103"));
    std::set<std::tuple<std::uint32_t, std::uint16_t>> expected;
    for (int i = 0; i < 3; ++i) {
        const std::string client = "198.51." + std::to_string(101 + i) + ".5";
        const FlowKey key = flow(client.c_str(), 41000, "198.51.100.103", 443);
        ConnectionSpec s = spec_on(a, key, "203.0.113.22", 443, conn_nat);
        const auto t = a.dataplane.templates().create_and_attach(
            {key.src_ip & netmask, sticky, 0}, {s.real_server, s.rs_port, s.rs_address}, now_a,
            60'000);
        REQUIRE(t);
        s.template_index = t->index;
        s.flags |= conn_has_template;
        a.connect(s, TcpState::established, now_a, 900'000);
        expected.emplace(key.src_ip, key.src_port);
    }
    for (std::uint16_t p = 0; p < 200; ++p) {
        const FlowKey key =
            flow("198.51.100.7", static_cast<std::uint16_t>(42000 + p), "198.51.100.100", 80);
        const bool handshake = p % 10 == 0; // not replicated until established
        a.connect(spec_on(a, key, "203.0.113.11", 8080, conn_nat),
                  handshake ? TcpState::syn_sent : TcpState::established, now_a, 900'000);
        if (!handshake)
            expected.emplace(key.src_ip, key.src_port);
    }
    REQUIRE(a.table().size() == 203);

    std::uint64_t cursor = 0;
    std::vector<Entry> out;
    int calls = 0;
    while (a.bridge.dump(cursor, out, now_a))
        REQUIRE(++calls < 100);
    CHECK(calls >= 1); // 64 templates and 256 connections take more than one 256-slot batch

    std::size_t templates = 0;
    bool seen_connection = false;
    std::set<std::tuple<std::uint32_t, std::uint16_t>> seen;
    for (const Entry& e : out) {
        if (std::holds_alternative<wire::TemplateEntry>(e)) {
            CHECK_FALSE(seen_connection);
            ++templates;
        } else {
            const auto& c = std::get<wire::ConnectionEntry>(e);
            seen_connection = true;
            CHECK(c.tcp_state == static_cast<std::uint8_t>(TcpState::established));
            CHECK(seen.emplace(c.flow.client.address, c.flow.client.port).second); // once
        }
    }
    CHECK(templates == 3);
    CHECK(seen == expected);
    CHECK(out.size() == 3 + 183);
}

TEST_CASE("bridge: the sweep queues what the peer never got or will lose first") {
    Node a("sbA_", false);
    const FlowKey key = flow("198.51.100.7", 40007, "198.51.100.100", 80);
    const auto index = a.connect(spec_on(a, key, "203.0.113.11", 8080, conn_nat),
                                 TcpState::established, now_a, 900'000);
    const std::uint32_t all = a.table().capacity();

    std::vector<Entry> out;
    a.bridge.sweep(all, now_a, out); // its event was lost: never sent
    REQUIRE(out.size() == 1);
    CHECK(std::get<wire::ConnectionEntry>(out[0]).flow.client.port == port(40007));

    // Sent by its event: the peer's copy lives as long as ours.
    out.clear();
    REQUIRE(describe(a, index, now_a).size() == 1);
    a.bridge.sweep(all, now_a, out);
    CHECK(out.empty());
    a.bridge.sweep(all, now_a + 300'000, out);
    CHECK(out.empty());

    // Traffic keeps ours alive; the peer's copy is not refreshed by it. Before half of the
    // peer's copy's life is gone, nothing; after, one refresh.
    Connection& c = a.table().at(index);
    c.last_seen_ms.store(now_a + 400'000);
    a.bridge.sweep(all, now_a + 400'000, out);
    CHECK(out.empty()); // the peer's has 500 s left
    c.last_seen_ms.store(now_a + 500'000);
    a.bridge.sweep(all, now_a + 500'000, out);
    REQUIRE(out.size() == 1); // 400 s left there, ours 900 s
    CHECK(std::get<wire::ConnectionEntry>(out[0]).remaining_ms == 900'000);
    out.clear();
    a.bridge.sweep(all, now_a + 500'000, out);
    CHECK(out.empty()); // just refreshed
}

TEST_CASE("bridge: what a dump sent counts as held by the peer") {
    Node a("sbA_", false);
    const FlowKey kept = flow("198.51.100.7", 40008, "198.51.100.100", 80);
    const FlowKey gone = flow("198.51.100.7", 40009, "198.51.100.100", 80);
    a.connect(spec_on(a, kept, "203.0.113.11", 8080, conn_nat), TcpState::established, now_a,
              900'000);
    const auto index = a.connect(spec_on(a, gone, "203.0.113.11", 8080, conn_nat),
                                 TcpState::established, now_a, 900'000);
    std::uint64_t cursor = 0;
    std::vector<Entry> out;
    while (a.bridge.dump(cursor, out, now_a)) {
    }
    REQUIRE(out.size() == 2);

    // Its removal is told to the peer...
    REQUIRE(a.table().remove(index));
    const auto deletion = a.bridge.expired(index, a.table().at(index), now_a);
    REQUIRE(deletion);
    CHECK(deletion->flow.client.port == port(40009));
    // ...and the sweep does not send again what the peer holds as long as ours lives.
    out.clear();
    a.bridge.sweep(a.table().capacity(), now_a, out);
    CHECK(out.empty());
}

TEST_CASE("bridge: sync_after defers a new connection; one closing by then is never sent") {
    Node a("sbA_", false);
    const std::uint32_t all = a.table().capacity();
    const FlowKey lives = flow("198.51.100.7", 40010, "198.51.100.100", 80);
    const FlowKey ends = flow("198.51.100.7", 40011, "198.51.100.100", 80);
    const auto long_one = a.connect(spec_on(a, lives, "203.0.113.11", 8080, conn_nat),
                                    TcpState::established, now_a, 900'000);
    const auto short_one = a.connect(spec_on(a, ends, "203.0.113.11", 8080, conn_nat),
                                     TcpState::established, now_a, 900'000);
    a.bridge.defer(long_one);
    a.bridge.defer(short_one);
    std::vector<Entry> out;
    a.bridge.sweep(all, now_a + 1000, out);
    CHECK(out.empty()); // deferred: not "never sent"
    // The short one closes (its FIN is deferred too), then both come due.
    a.table().at(short_one).state.store(TcpState::fin_wait);
    a.bridge.defer(short_one);
    a.bridge.settle(long_one, now_a + 2000, out);
    a.bridge.settle(short_one, now_a + 2000, out);
    a.bridge.settle(short_one, now_a + 2000, out); // its FIN's event
    REQUIRE(out.size() == 1);
    CHECK(std::get<wire::ConnectionEntry>(out[0]).flow.client.port == port(40010));
    // Nothing of the short one later either: it is ending.
    out.clear();
    a.bridge.sweep(all, now_a + 3000, out);
    CHECK(out.empty());
    // A change of a connection the peer holds is sent when settled, closing or not.
    a.table().at(long_one).state.store(TcpState::fin_wait);
    a.bridge.defer(long_one);
    a.bridge.settle(long_one, now_a + 4000, out);
    REQUIRE(out.size() == 1);
    CHECK(std::get<wire::ConnectionEntry>(out[0]).tcp_state ==
          static_cast<std::uint8_t>(TcpState::fin_wait));
}

TEST_CASE("bridge: a tunnel connection is installed on B as a tunnel one") {
    Node a("sbA_", false);
    Node b("sbB_", true);
    const FlowKey key = flow("198.51.100.8", 40009, "198.51.100.105", 80);
    const auto index = a.connect(spec_on(a, key, "203.0.113.52", 80, conn_tunnel),
                                 TcpState::established, now_a, 900'000);
    const auto entries = via_wire(describe(a, index, now_a));
    REQUIRE(entries.size() == 1);
    CHECK((std::get<wire::ConnectionEntry>(entries[0]).flags & wire::entry_tunnel) != 0);
    apply_all(b, entries, now_b);
    CHECK(b.bridge.counters().applied == 1);
    const Connection& c = b.at(key);
    CHECK(c.flags == conn_tunnel);
    CHECK(c.real_server == b.real_server(key.dst_ip, addr("203.0.113.52")));
    // Like DR: the real server answers the client directly, there is no reply key.
    CHECK_FALSE(b.table().lookup(spec_on(a, key, "203.0.113.52", 80, 0).reply_key()));
}

TEST_CASE("bridge 21.4: a peer's deletion of a flow seen here later is refused") {
    Node a("sbA_", false);
    Node b("sbB_", true);
    const FlowKey key = flow("198.51.100.7", 40020, "198.51.100.100", 80);
    const ConnectionSpec s = spec_on(a, key, "203.0.113.11", 8080, conn_nat);
    const auto index = a.connect(s, TcpState::established, now_a, 20'000);
    apply_all(b, describe(a, index, now_a), now_b);
    REQUIRE(b.table().lookup(key));
    // The sync link is down for 30 s: B's copy (20 s of life) expires there, while A's flow
    // carries traffic; B's deletion says it last saw the flow 30 s before.
    b.at(key).last_seen_ms.store(now_b + 5000); // B's traffic, as the master, 5 s in
    wire::DeletionEntry d;
    d.flow = {6, {key.src_ip, key.src_port}, {key.dst_ip, key.dst_port}};
    d.idle_ms = 30'000;
    apply_all(b, via_wire({Entry{d}}), now_b + 31'000);
    CHECK(b.table().lookup(key)); // B saw it 4 s after the peer last did: kept
    CHECK(b.bridge.counters().deletions_refused == 1);
    CHECK(b.bridge.counters().deleted == 0);
    // A deletion that says the flow was seen after our last packet applies.
    d.idle_ms = 0;
    apply_all(b, via_wire({Entry{d}}), now_b + 31'000);
    CHECK_FALSE(b.table().lookup(key));
    CHECK(b.bridge.counters().deleted == 1);
    // And the expiry's deletion says how long the flow had been idle.
    a.table().at(index).last_seen_ms.store(now_a - 25'000);
    REQUIRE(a.table().remove(index));
    const auto expired = a.bridge.expired(index, a.table().at(index), now_a);
    REQUIRE(expired);
    CHECK(expired->idle_ms == 25'000);
}

TEST_CASE("bridge 21.7: a template refreshed on the master is sent again by the sweep") {
    Node a("sbA_", false);
    const FlowKey key = flow("198.51.100.77", 40021, "198.51.100.103", 443);
    const ConnectionSpec s = spec_on(a, key, "203.0.113.21", 443, conn_nat);
    const std::uint32_t netmask = addr("255.255.255.0");
    const auto t = a.dataplane.templates().create_and_attach(
        {key.src_ip & netmask, s.service, 0}, {s.real_server, s.rs_port, s.rs_address}, now_a,
        60'000);
    REQUIRE(t);
    const std::uint32_t all = a.table().capacity();
    std::vector<Entry> out;
    a.bridge.describe_event(SyncEvent::make(SyncEventKind::persistence_template, t->index), now_a,
                            out);
    REQUIRE(out.size() == 1);
    out.clear();
    a.bridge.sweep(all, now_a + 10'000, out);
    CHECK(out.empty()); // the peer's copy lives as long as ours
    // New connections under it keep ours alive (no event); the peer's would expire first.
    a.dataplane.templates().at(t->index).last_used_ms.store(now_a + 40'000);
    a.bridge.sweep(all, now_a + 40'000, out);
    REQUIRE(out.size() == 1);
    CHECK(std::get<wire::TemplateEntry>(out[0]).remaining_ms == 60'000);
    out.clear();
    a.bridge.sweep(all, now_a + 40'000, out);
    CHECK(out.empty()); // just refreshed
}
