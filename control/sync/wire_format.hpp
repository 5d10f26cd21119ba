// The replication protocol's messages as values: what one node tells its peer about the
// sessions it forwards. Identities only, never local indices: a service is (VIP, protocol, its
// port or its group's first port), a real server (address, port); the receiver binds them to its
// own configuration or counts the entry as unbound. Timeouts travel as what remains, never as
// absolute times (the nodes' clocks are unrelated). Addresses and ports are in network order, as
// the dataplane keeps them; the codec (control/sync/codec.hpp) writes every field big-endian.
#pragma once

#include <array>
#include <cstdint>
#include <variant>
#include <vector>

namespace lb::control::sync {

constexpr std::uint32_t protocol_magic = 0x4c425359; // "LBSY"
constexpr std::uint8_t protocol_version = 1;
constexpr std::uint16_t default_port = 8848;

enum class MessageType : std::uint8_t {
    hello = 1,   // who I am: epoch, configuration digest, whether I am in sync; also the heartbeat
    entries = 2, // sequenced: session entries (live updates and bulk dumps alike)
    ack = 3,     // what I have from you: cumulative sequence plus missing ranges
};

enum HeaderFlags : std::uint8_t {
    flag_bulk = 1 << 0,      // entries of a full dump (a start, or the peer's new epoch)
    flag_bulk_end = 1 << 1,  // the last datagram of that dump
    flag_in_sync = 1 << 2,   // hello: the sender holds a complete copy of its peer's table
    flag_want_bulk = 1 << 3, // hello: the sender needs a full dump
};

struct Header {
    MessageType type = MessageType::hello;
    std::uint8_t flags = 0;
    std::uint32_t cluster_id = 1;
    std::uint64_t epoch = 0;    // the sender's boot epoch: random at start-up
    std::uint32_t sequence = 0; // entries messages: this datagram's number, from 1
    std::uint32_t ack = 0;      // the highest sequence received in order from the peer's epoch

    bool operator==(const Header&) const = default;
};

// A service as both nodes name it: `port` is the service's port, or the first port of its
// group's first range with `group` set.
struct ServiceIdentity {
    std::uint32_t vip = 0;
    std::uint8_t protocol = 0; // IPPROTO_TCP or IPPROTO_UDP
    bool group = false;
    std::uint16_t port = 0;

    bool operator==(const ServiceIdentity&) const = default;
};

struct Endpoint {
    std::uint32_t address = 0;
    std::uint16_t port = 0;

    bool operator==(const Endpoint&) const = default;
};

// The flow as the client sends it: client → VIP.
struct FlowIdentity {
    std::uint8_t protocol = 0;
    Endpoint client;
    Endpoint virtual_endpoint;

    bool operator==(const FlowIdentity&) const = default;
};

enum ConnectionEntryFlags : std::uint8_t {
    entry_nat = 1 << 0,            // replies from the real server are rewritten
    entry_template = 1 << 1,       // created under a persistence template
    entry_expectation = 1 << 2,    // an FTP data-connection expectation, not a connection
    entry_track_sequence = 1 << 3, // client_next_seq and client_ack are carried
    entry_tunnel = 1 << 4,         // the client's packets go to the real server in IPIP
};

struct ConnectionEntry {
    FlowIdentity flow;
    ServiceIdentity service;
    Endpoint real_server;
    std::uint8_t tcp_state = 0; // dataplane::TcpState
    std::uint8_t flags = 0;     // ConnectionEntryFlags
    std::uint8_t interface = 0; // position in the configuration's interfaces (digest-checked)
    std::array<std::uint8_t, 6> client_mac{}; // where the client's packets came from
    std::uint32_t remaining_ms = 0;
    std::uint32_t client_next_seq = 0; // with entry_track_sequence
    std::uint32_t client_ack = 0;

    bool operator==(const ConnectionEntry&) const = default;
};

// A persistence binding: clients of `client` (already masked) / `prefix_length` go to
// `real_server` of `service`.
struct TemplateEntry {
    std::uint32_t client = 0;
    std::uint8_t prefix_length = 32;
    ServiceIdentity service;
    Endpoint real_server;
    std::uint32_t remaining_ms = 0;

    bool operator==(const TemplateEntry&) const = default;
};

// The NAT FTP helper's state of one control connection: the sequence shift of the server's
// stream and the line bookkeeping of both directions (dataplane::FtpState).
struct FtpStateEntry {
    FlowIdentity control;
    std::uint32_t correction_pos = 0;
    std::int32_t offset_before = 0;
    std::int32_t offset_after = 0;
    bool shift_active = false;
    std::array<bool, 2> continuation_valid{};
    std::array<std::uint32_t, 2> continuation_seq{};

    bool operator==(const FtpStateEntry&) const = default;
};

enum class DeletedKind : std::uint8_t { connection = 1, template_binding = 2 };

struct DeletionEntry {
    DeletedKind kind = DeletedKind::connection;
    FlowIdentity flow;        // connection
    std::uint32_t client = 0; // template: masked client, prefix length and service
    std::uint8_t prefix_length = 32;
    ServiceIdentity service;

    bool operator==(const DeletionEntry&) const = default;
};

using Entry = std::variant<ConnectionEntry, TemplateEntry, FtpStateEntry, DeletionEntry>;

struct Hello {
    std::array<std::uint8_t, 32> config_digest{}; // SHA-256 of what both nodes must agree on
    std::uint32_t entries_held = 0;               // for lbctl on the peer: how big my table is

    bool operator==(const Hello&) const = default;
};

// Missing ranges of sequences the receiver asks again for (NACK), after `Header::ack`.
struct MissingRange {
    std::uint32_t first = 0;
    std::uint16_t count = 0;

    bool operator==(const MissingRange&) const = default;
};

struct Ack {
    // The epoch of the sender whose datagrams this acknowledges: an acknowledgement delayed
    // across that sender's restart must not acknowledge the new epoch's numbers.
    std::uint64_t for_epoch = 0;
    std::vector<MissingRange> missing;

    bool operator==(const Ack&) const = default;
};

} // namespace lb::control::sync
