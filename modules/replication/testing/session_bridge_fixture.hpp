// Two dataplanes in one process and a SessionBridge on each (session_bridge_test.cpp says what is
// checked).
#pragma once

#include "control/identity_registry.hpp"
#include "control/snapshot_builder.hpp"
#include "dataplane/dataplane.hpp"
#include "dataplane/sync_events.hpp"
#include "modules/replication/codec.hpp"
#include "modules/replication/session_bridge.hpp"
#include "test/test_config.hpp"
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <vector>

using namespace lb::dataplane;
namespace wire = lb::control::sync;
using lb::control::replication::SessionBridge;
using wire::Entry;

namespace bridge_fixture {

// The same services on both nodes; B lists each service's real servers in reverse order, so
// that its real-server numbers differ from A's.
inline std::string config_yaml(bool reversed) {
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

inline std::uint32_t addr(const char* text) {
    return inet_addr(text);
}

inline std::uint16_t port(std::uint16_t p) {
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
inline const std::uint8_t client_mac[6] = {0x02, 0, 0, 0, 0, 0x2a};

inline FlowKey flow(const char* client, std::uint16_t client_port, const char* vip,
                    std::uint16_t vip_port, std::uint8_t protocol = 6) {
    FlowKey k;
    k.src_ip = addr(client);
    k.src_port = port(client_port);
    k.dst_ip = addr(vip);
    k.dst_port = port(vip_port);
    k.protocol = protocol;
    return k;
}

inline ConnectionSpec spec_on(const Node& n, const FlowKey& key, const char* rs,
                              std::uint16_t rs_port, std::uint8_t flags) {
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
inline std::vector<Entry> via_wire(const std::vector<Entry>& entries) {
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

inline void apply_all(Node& to, const std::vector<Entry>& entries, std::uint32_t now) {
    for (const Entry& e : entries)
        to.bridge.apply(e, now);
}

inline std::vector<Entry> describe(Node& from, std::uint32_t index, std::uint32_t now) {
    std::vector<Entry> out;
    from.bridge.describe_event(SyncEvent::make(SyncEventKind::connection, index), now, out);
    return out;
}

inline std::uint32_t expiry(const Connection& c) {
    return c.last_seen_ms.load() + c.timeout_ms.load();
}

} // namespace bridge_fixture
