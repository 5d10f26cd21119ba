// SessionBridge (modules/replication/session_bridge.hpp) between two dataplanes in one process:
// what node A describes of its live tables, node B installs into its own, bound to its own
// numbering of services and real servers (B's configuration lists the servers in another
// order), with remaining timeouts rather than absolute times (B's clock is far from A's).
#include <catch2/catch.hpp>

#include "modules/replication/testing/session_bridge_fixture.hpp"

using namespace bridge_fixture;

TEST_CASE("bridge: an established NAT connection from A works on B, both ways") {
    Node a("sbA_", false);
    Node b("sbB_", true);
    const FlowKey key = flow("198.51.100.7", 40000, "198.51.100.100", 80);
    ConnectionSpec s = spec_on(a, key, "203.0.113.12", 8080, conn_nat | conn_track_sequence);
    s.ingress = 1;
    // Seen 100 s ago with the 900 s established timeout: 800 s remain.
    const std::uint32_t index = a.connect(s, TcpState::established, now_a - 100'000, 900'000);
    a.table().at(index).client_next_seq.store(0xfffffff0u);
    a.table().at(index).client_ack.store(4242);

    const auto entries = via_wire(describe(a, index, now_a));
    REQUIRE(entries.size() == 1);
    const auto& ce = std::get<wire::ConnectionEntry>(entries[0]);
    CHECK(ce.remaining_ms == 800'000);
    CHECK(ce.interface == 1);
    apply_all(b, entries, now_b);

    CHECK(b.bridge.counters().applied == 1);
    CHECK(b.bridge.counters().unbound == 0);
    CHECK(b.table().size() == 1);
    const auto by_client = b.table().lookup(key);
    REQUIRE(by_client);
    CHECK(by_client->direction == KeyDirection::from_client);
    const auto by_reply = b.table().lookup(s.reply_key());
    REQUIRE(by_reply);
    CHECK(by_reply->direction == KeyDirection::from_real_server);
    CHECK(by_reply->index == by_client->index);

    const Connection& c = b.table().at(by_client->index);
    const std::uint16_t rs_b = b.real_server(key.dst_ip, addr("203.0.113.12"));
    CHECK(rs_b != s.real_server); // B numbers its servers otherwise
    CHECK(c.real_server == rs_b);
    CHECK(c.service == b.service(key.dst_ip));
    CHECK(c.rs_address == addr("203.0.113.12"));
    CHECK(c.rs_port == port(8080));
    CHECK(c.state.load() == TcpState::established);
    CHECK(c.flags == (conn_nat | conn_track_sequence));
    CHECK(c.ingress == 1);
    CHECK(std::memcmp(c.client_mac, client_mac, 6) == 0);
    CHECK(c.client_next_seq.load() == 0xfffffff0u);
    CHECK(c.client_ack.load() == 4242);
    // The time left, not A's absolute time: B's copy expires 800 s after B's now.
    CHECK(expiry(c) == now_b + 800'000);
    CHECK(c.timeout_ms.load() == 900'000);
    CHECK(b.dataplane.load().get(rs_b) == 1);
    // The copy as B would describe it is A's entry (the MAC and interface included).
    CHECK(b.bridge.connection_entry(by_client->index, now_b) == std::optional(ce));
}

TEST_CASE("bridge: a DR connection and a UDP flow") {
    Node a("sbA_", false);
    Node b("sbB_", true);
    const FlowKey dr = flow("198.51.100.8", 40001, "198.51.100.101", 80);
    const FlowKey udp = flow("198.51.100.9", 5000, "198.51.100.102", 53, 17);
    const ConnectionSpec dr_spec = spec_on(a, dr, "198.51.100.22", 0, 0);
    const ConnectionSpec udp_spec = spec_on(a, udp, "203.0.113.41", 5353, conn_nat);
    const auto i_dr = a.connect(dr_spec, TcpState::established, now_a, 900'000);
    const auto i_udp = a.connect(udp_spec, TcpState::none, now_a - 10'000, 300'000);

    std::vector<Entry> entries = describe(a, i_dr, now_a);
    const auto more = describe(a, i_udp, now_a);
    entries.insert(entries.end(), more.begin(), more.end());
    REQUIRE(entries.size() == 2);
    apply_all(b, entries, now_b);
    CHECK(b.bridge.counters().applied == 2);
    CHECK(b.table().size() == 2);

    const Connection& c = b.at(dr);
    CHECK(c.flags == 0);
    CHECK(c.state.load() == TcpState::established);
    CHECK(c.real_server == b.real_server(dr.dst_ip, addr("198.51.100.22")));
    CHECK(c.rs_address == addr("198.51.100.22"));
    CHECK(c.rs_port == 0);
    CHECK(expiry(c) == now_b + 900'000);
    CHECK_FALSE(b.table().lookup(dr_spec.reply_key())); // DR: no reply key

    const Connection& u = b.at(udp);
    CHECK(u.flags == conn_nat);
    CHECK(u.state.load() == TcpState::none);
    CHECK(u.key.protocol == 17);
    CHECK(u.real_server == b.real_server(udp.dst_ip, addr("203.0.113.41")));
    CHECK(u.rs_port == port(5353));
    CHECK(u.timeout_ms.load() == 300'000);
    CHECK(expiry(u) == now_b + 290'000);
    CHECK(b.table().lookup(udp_spec.reply_key()));
}

TEST_CASE("bridge: a persistence template, then a connection under it") {
    Node a("sbA_", false);
    Node b("sbB_", true);
    const FlowKey key = flow("198.51.100.77", 40002, "198.51.100.103", 443);
    ConnectionSpec s = spec_on(a, key, "203.0.113.21", 443, conn_nat);
    const std::uint32_t netmask = addr("255.255.255.0");
    const auto t = a.dataplane.templates().create_and_attach(
        {key.src_ip & netmask, s.service, 0}, {s.real_server, s.rs_port, s.rs_address},
        now_a - 20'000, 60'000);
    REQUIRE(t);
    s.template_index = t->index;
    s.flags |= conn_has_template;
    const auto index = a.connect(s, TcpState::established, now_a, 900'000);

    std::vector<Entry> entries;
    a.bridge.describe_event(SyncEvent::make(SyncEventKind::persistence_template, t->index), now_a,
                            entries);
    const auto conn = describe(a, index, now_a);
    entries.insert(entries.end(), conn.begin(), conn.end());
    REQUIRE(entries.size() == 2);
    const auto& te = std::get<wire::TemplateEntry>(entries[0]);
    CHECK(te.client == addr("198.51.100.0"));
    CHECK(te.prefix_length == 24);
    CHECK(te.remaining_ms == 40'000);
    CHECK(std::get<wire::ConnectionEntry>(entries[1]).flags ==
          (wire::entry_nat | wire::entry_template));
    apply_all(b, via_wire(entries), now_b);
    CHECK(b.bridge.counters().applied == 2);

    const std::uint16_t service_b = b.service(key.dst_ip);
    const auto t_b = b.dataplane.templates().find({addr("198.51.100.0"), service_b, 0});
    REQUIRE(t_b);
    const TemplateTarget target = b.dataplane.templates().target(*t_b);
    const std::uint16_t rs_b = b.real_server(key.dst_ip, addr("203.0.113.21"));
    CHECK(rs_b != s.real_server);
    CHECK(target.real_server == rs_b);
    CHECK(target.address == addr("203.0.113.21"));
    CHECK(target.port == port(443));
    const PersistenceTemplate& tpl = b.dataplane.templates().at(*t_b);
    CHECK(tpl.timeout_ms.load() == 60'000);
    CHECK(tpl.last_used_ms.load() + tpl.timeout_ms.load() == now_b + 40'000);
    CHECK(tpl.children.load() == 1); // the connection's

    const Connection& c = b.at(key);
    CHECK(c.template_index == *t_b);
    CHECK((c.flags & conn_has_template) != 0);
    CHECK(c.real_server == rs_b);
}

TEST_CASE("bridge: an FTP control connection's sequence shift and an expectation") {
    Node a("sbA_", false);
    Node b("sbB_", true);
    const FlowKey control = flow("198.51.100.50", 40003, "198.51.100.104", 21);
    const ConnectionSpec s = spec_on(a, control, "203.0.113.32", 21, conn_nat);
    const auto index = a.connect(s, TcpState::established, now_a, 900'000);
    const auto st = a.dataplane.ftp_states().allocate();
    REQUIRE(st);
    a.table().at(index).ftp_state.store(*st);
    FtpState& fs = a.dataplane.ftp_states().at(*st);
    fs.server_stream.correction_pos = 0x80000001u;
    fs.server_stream.offset_before = -3;
    fs.server_stream.offset_after = 5;
    fs.server_stream.active = true;
    fs.continuation_valid[1] = true;
    fs.continuation_seq[1] = 777;

    // A passive data port announced to this client: any client port (0) to 10001.
    ConnectionSpec e = spec_on(a, flow("198.51.100.50", 0, "198.51.100.104", 10001), "203.0.113.32",
                               10001, conn_expectation);
    const auto expectation = a.connect(e, TcpState::none, now_a - 15'000, 60'000);

    std::vector<Entry> entries = describe(a, index, now_a);
    REQUIRE(entries.size() == 2); // the connection, then its FTP state
    const wire::FtpStateEntry fe =
        std::get<wire::FtpStateEntry>(entries[1]); // a copy: entries grows
    CHECK(fe.offset_after == 5);
    const auto more = describe(a, expectation, now_a);
    REQUIRE(more.size() == 1);
    CHECK(std::get<wire::ConnectionEntry>(more[0]).flow.client.port == 0);
    entries.insert(entries.end(), more.begin(), more.end());
    apply_all(b, via_wire(entries), now_b);
    CHECK(b.bridge.counters().applied == 3);
    CHECK(b.bridge.counters().unbound == 0);

    const Connection& c = b.at(control);
    const std::uint32_t st_b = c.ftp_state.load();
    REQUIRE(st_b != no_ftp_state);
    FtpState& fb = b.dataplane.ftp_states().at(st_b);
    CHECK(fb.server_stream.correction_pos == 0x80000001u);
    CHECK(fb.server_stream.offset_before == -3);
    CHECK(fb.server_stream.offset_after == 5);
    CHECK(fb.server_stream.active);
    CHECK_FALSE(fb.continuation_valid[0]);
    CHECK(fb.continuation_valid[1]);
    CHECK(fb.continuation_seq[1] == 777);
    CHECK(b.bridge.ftp_entry(b.table().lookup(control)->index) == std::optional(fe));

    const std::uint16_t rs_b = b.real_server(control.dst_ip, addr("203.0.113.32"));
    const Connection& x = b.at(e.key);
    CHECK(x.flags == conn_expectation);
    CHECK(x.key.src_port == 0);
    CHECK(x.rs_port == port(10001));
    CHECK(x.real_server == rs_b);
    CHECK(x.ftp_state.load() == no_ftp_state);
    CHECK(x.timeout_ms.load() == 60'000);
    CHECK(expiry(x) == now_b + 45'000);
    CHECK(b.dataplane.load().get(rs_b) == 1); // the control connection only
}

TEST_CASE("bridge: a deletion removes the connection on B") {
    Node a("sbA_", false);
    Node b("sbB_", true);
    const FlowKey key = flow("198.51.100.7", 40004, "198.51.100.100", 80);
    const ConnectionSpec s = spec_on(a, key, "203.0.113.11", 8080, conn_nat);
    const auto index = a.connect(s, TcpState::established, now_a, 900'000);
    // Never sent: nothing to delete on the peer.
    CHECK_FALSE(a.bridge.expired(index, a.table().at(index), now_a));
    apply_all(b, describe(a, index, now_a), now_b);
    const std::uint16_t rs_b = b.real_server(key.dst_ip, addr("203.0.113.11"));
    REQUIRE(b.table().lookup(key));
    CHECK(b.dataplane.load().get(rs_b) == 1);

    REQUIRE(a.table().remove(index));
    const auto deletion = a.bridge.expired(index, a.table().at(index), now_a);
    REQUIRE(deletion);
    CHECK(deletion->kind == wire::DeletedKind::connection);
    CHECK_FALSE(a.bridge.expired(index, a.table().at(index), now_a)); // once
    apply_all(b, via_wire({Entry{*deletion}}), now_b);
    CHECK(b.bridge.counters().deleted == 1);
    CHECK_FALSE(b.table().lookup(key));
    CHECK_FALSE(b.table().lookup(s.reply_key()));
    CHECK(b.table().size() == 0);
    CHECK(b.dataplane.load().get(rs_b) == 0);
}

TEST_CASE("bridge: an update changes B's copy in place; another server replaces it") {
    Node a("sbA_", false);
    Node b("sbB_", true);
    const FlowKey key = flow("198.51.100.7", 40005, "198.51.100.100", 80);
    const ConnectionSpec s = spec_on(a, key, "203.0.113.11", 8080, conn_nat);
    const auto index = a.connect(s, TcpState::established, now_a, 900'000);
    apply_all(b, describe(a, index, now_a), now_b);
    const auto first = b.table().lookup(key);
    REQUIRE(first);

    // A sees a FIN: fin_wait, its 120 s timeout.
    Connection& ca = a.table().at(index);
    ca.state.store(TcpState::fin_wait);
    ca.timeout_ms.store(120'000);
    ca.last_seen_ms.store(now_a + 1'000);
    apply_all(b, describe(a, index, now_a + 1'000), now_b + 1'000);
    const auto second = b.table().lookup(key);
    REQUIRE(second);
    CHECK(second->index == first->index);
    CHECK(b.table().size() == 1);
    const Connection& cb = b.table().at(second->index);
    CHECK(cb.state.load() == TcpState::fin_wait);
    CHECK(cb.timeout_ms.load() == 120'000);
    CHECK(expiry(cb) == now_b + 1'000 + 120'000);
    CHECK(b.bridge.counters().applied == 2);

    // The peer's word that it now goes to the other server (its table was rebuilt since).
    auto entry = std::get<wire::ConnectionEntry>(describe(a, index, now_a + 1'000)[0]);
    entry.real_server = {addr("203.0.113.12"), port(8080)};
    entry.tcp_state = static_cast<std::uint8_t>(TcpState::established);
    entry.remaining_ms = 900'000;
    b.bridge.apply(entry, now_b + 2'000);
    CHECK(b.table().size() == 1);
    const Connection& moved = b.at(key);
    const std::uint16_t old_rs = b.real_server(key.dst_ip, addr("203.0.113.11"));
    const std::uint16_t new_rs = b.real_server(key.dst_ip, addr("203.0.113.12"));
    CHECK(moved.real_server == new_rs);
    CHECK(moved.rs_address == addr("203.0.113.12"));
    CHECK(moved.state.load() == TcpState::established);
    CHECK_FALSE(b.table().lookup(s.reply_key())); // the old server's replies no longer match
    ConnectionSpec moved_spec = s;
    moved_spec.rs_address = addr("203.0.113.12");
    const auto reply = b.table().lookup(moved_spec.reply_key());
    REQUIRE(reply);
    CHECK(reply->direction == KeyDirection::from_real_server);
    CHECK(b.dataplane.load().get(old_rs) == 0);
    CHECK(b.dataplane.load().get(new_rs) == 1);
}
