// SessionBridge (modules/replication/session_bridge.hpp) between two dataplanes in one process:
// what node A describes of its live tables, node B installs into its own, bound to its own
// numbering of services and real servers (B's configuration lists the servers in another
// order), with remaining timeouts rather than absolute times (B's clock is far from A's).
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "control/identity_registry.hpp"
#include "modules/replication/session_bridge.hpp"
#include "control/snapshot_builder.hpp"
#include "modules/replication/codec.hpp"
#include "dataplane/dataplane.hpp"
#include "dataplane/sync_events.hpp"
#include "test/test_config.hpp"

using namespace lb::dataplane;
namespace wire = lb::control::sync;
using lb::control::replication::SessionBridge;
using wire::Entry;

namespace {

// The same services on both nodes; B lists each service's real servers in reverse order, so
// that its real-server numbers differ from A's.
std::string config_yaml(bool reversed) {
    auto pair = [reversed](const std::string& a, const std::string& b) {
        return reversed ? "      - " + b + "\n      - " + a + "\n"
                        : "      - " + a + "\n      - " + b + "\n";
    };
    return std::string(lb::test::two_interfaces) +
           "services:\n"
           "  - name: web\n"
           "    vip: 198.51.100.100\n"
           "    port: 80\n"
           "    real_servers:\n" +
           pair("{address: 203.0.113.11, port: 8080}", "{address: 203.0.113.12, port: 8080}") +
           "  - name: direct\n"
           "    vip: 198.51.100.101\n"
           "    port: 80\n"
           "    forwarding: dr\n"
           "    real_servers:\n" +
           pair("{address: 198.51.100.21}", "{address: 198.51.100.22}") +
           "  - name: dns\n"
           "    vip: 198.51.100.102\n"
           "    port: 53\n"
           "    protocol: udp\n"
           "    real_servers:\n" +
           pair("{address: 203.0.113.41, port: 5353}", "{address: 203.0.113.42, port: 5353}") +
           "  - name: sticky\n"
           "    vip: 198.51.100.103\n"
           "    port: 443\n"
           "    persistence: {timeout: 60s, netmask: 255.255.255.0}\n"
           "    real_servers:\n" +
           pair("{address: 203.0.113.21, port: 443}", "{address: 203.0.113.22, port: 443}") +
           "  - name: ftp\n"
           "    vip: 198.51.100.104\n"
           "    port: 21\n"
           "    real_servers:\n" +
           pair("{address: 203.0.113.31}", "{address: 203.0.113.32}") +
           "  - name: tunnel\n"
           "    vip: 198.51.100.105\n"
           "    port: 80\n"
           "    forwarding: tunnel\n"
           "    real_servers:\n" +
           pair("{address: 203.0.113.51}", "{address: 203.0.113.52}");
}

std::uint32_t addr(const char* text) {
    return inet_addr(text);
}

std::uint16_t port(std::uint16_t p) {
    return htons(p);
}

// One node: its dataplane (never launched), its snapshot published, its bridge bound.
struct Node {
    Node(const char* prefix, bool reversed)
        : dataplane(sizes(prefix)), bridge(dataplane.context()) {
        const auto config = lb::test::config_from(config_yaml(reversed));
        snapshot = lb::control::build_snapshot(config, lb::test::fake_ports(2),
                                               dataplane.neighbours(), registry, nullptr, 1);
        dataplane.publish(*snapshot);
        bridge.bind(*snapshot);
    }

    static DataplaneSizes sizes(const char* prefix) {
        DataplaneSizes s;
        s.workers = 1;
        s.packet_buffers = 511;
        s.packet_buffer_cache = 0;
        s.connections = 256;
        s.persistence_templates = 64;
        s.ftp_sessions = 8;
        s.name_prefix = prefix;
        return s;
    }

    std::uint16_t service(std::uint32_t vip) const {
        for (std::size_t i = 0; i < snapshot->services.size(); ++i)
            if (snapshot->services[i].vip == vip)
                return static_cast<std::uint16_t>(i);
        FAIL("no service at that VIP");
        return 0;
    }
    std::uint16_t real_server(std::uint32_t vip, std::uint32_t address) const {
        for (const std::uint16_t m : snapshot->services[service(vip)].members)
            if (snapshot->real_servers[m].address == address)
                return m;
        FAIL("no such real server");
        return 0;
    }

    ConnectionTable& table() { return dataplane.connections(); }
    Connection& at(const FlowKey& key) {
        const auto hit = table().lookup(key);
        REQUIRE(hit);
        return table().at(hit->index);
    }

    // A connection created the way a worker creates one; returns its index.
    std::uint32_t connect(ConnectionSpec spec, TcpState state, std::uint32_t last_seen,
                          std::uint32_t timeout) {
        std::uint32_t index = 0;
        REQUIRE(table().insert(spec, state, last_seen, timeout, &index) == InsertResult::inserted);
        if (!(spec.flags & conn_expectation))
            dataplane.load().add(spec.real_server, 1);
        return index;
    }

    Dataplane dataplane;
    lb::control::IdentityRegistry registry;
    std::unique_ptr<Snapshot> snapshot;
    SessionBridge bridge;
};

constexpr std::uint32_t now_a = 5'000'000;
constexpr std::uint32_t now_b = 123'456'789; // the nodes' clocks are unrelated
const std::uint8_t client_mac[6] = {0x02, 0, 0, 0, 0, 0x2a};

FlowKey flow(const char* client, std::uint16_t client_port, const char* vip, std::uint16_t vip_port,
             std::uint8_t protocol = 6) {
    FlowKey k;
    k.src_ip = addr(client);
    k.src_port = port(client_port);
    k.dst_ip = addr(vip);
    k.dst_port = port(vip_port);
    k.protocol = protocol;
    return k;
}

ConnectionSpec spec_on(const Node& n, const FlowKey& key, const char* rs, std::uint16_t rs_port,
                       std::uint8_t flags) {
    ConnectionSpec s;
    s.key = key;
    s.rs_address = addr(rs);
    s.rs_port = port(rs_port);
    s.service = n.service(key.dst_ip);
    s.real_server = n.real_server(key.dst_ip, addr(rs));
    s.ingress = 0;
    s.flags = flags;
    std::memcpy(s.client_mac, client_mac, 6);
    return s;
}

// Through the codec: one signed datagram, decoded as the peer would.
std::vector<Entry> via_wire(const std::vector<Entry>& entries) {
    const wire::MessageKey key(std::vector<std::uint8_t>(32, 0x5a));
    const wire::KeyRing keys{key, std::nullopt};
    wire::DatagramBuilder builder;
    wire::Header h;
    h.type = wire::MessageType::entries;
    h.sequence = 1;
    builder.start(h);
    for (const Entry& e : entries)
        REQUIRE(builder.add(e));
    const auto bytes = builder.finish(key);
    const std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
    wire::Decoded d = wire::decode_datagram(copy, keys, h.cluster_id);
    REQUIRE(d.error == wire::DecodeError::none);
    REQUIRE(d.entries == entries);
    return d.entries;
}

void apply_all(Node& to, const std::vector<Entry>& entries, std::uint32_t now) {
    for (const Entry& e : entries)
        to.bridge.apply(e, now);
}

std::vector<Entry> describe(Node& from, std::uint32_t index, std::uint32_t now) {
    std::vector<Entry> out;
    from.bridge.describe_event(SyncEvent::make(SyncEventKind::connection, index), now, out);
    return out;
}

std::uint32_t expiry(const Connection& c) {
    return c.last_seen_ms.load() + c.timeout_ms.load();
}

} // namespace

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
