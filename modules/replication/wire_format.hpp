// The replication protocol's messages as values: what one node tells its peer about the
// sessions it forwards. Identities only, never local indices: a service is (VIP, protocol, its
// port or its group's first port), a real server (address, port); the receiver binds them to its
// own configuration or counts the entry as unbound. Timeouts travel as what remains, never as
// absolute times (the nodes' clocks are unrelated). Addresses and ports are in network order, as
// the dataplane keeps them; the codec (modules/replication/codec.hpp) writes every field
// big-endian.
#pragma once

#include <array>
#include <cstdint>
#include <variant>
#include <vector>

namespace lb::control::sync {

constexpr std::uint32_t protocol_magic = 0x4c425359; // "LBSY"
// Version 2 (issue 21): 64-bit sequence numbers on the wire, both nodes' identities and epochs
// in every (signed) header, a handshake in the hello, deletions that carry their age.
constexpr std::uint8_t protocol_version = 2;
constexpr std::uint16_t default_port = 8848;

enum class MessageType : std::uint8_t {
    hello = 1,   // who I am: epoch, the stream I send you, configuration digest, whether I am in
                 // sync; also the heartbeat
    entries = 2, // sequenced: session entries (live updates and bulk dumps alike)
    ack = 3,     // what I have from you: cumulative sequence plus missing ranges
};

enum HeaderFlags : std::uint8_t {
    flag_bulk = 1 << 0,     // entries of a full dump (a start, or the peer's new epoch)
    flag_bulk_end = 1 << 1, // the last datagram of that dump
    flag_in_sync = 1 << 2,  // hello: the sender holds a complete copy of its peer's table
    // hello: the sender lost us for a while (or never had a stream of ours): start a new
    // stream. The hello's `ack` says which stream it has, so a repeated request is one restart.
    flag_want_stream = 1 << 3,
    flag_stream_start = 1 << 4, // entries: the first datagram of a new stream
};

// A node as the protocol names it: its replication address, IPv4 as IPv4-mapped IPv6
// (::ffff:a.b.c.d), so that an IPv6 replication link needs no new format.
using NodeId = std::array<std::uint8_t, 16>;
NodeId node_id_v4(std::uint32_t address_host_order);

struct Header {
    MessageType type = MessageType::hello;
    std::uint8_t flags = 0;
    std::uint32_t cluster_id = 1;
    // The sender's run: only grows across its restarts (lb/epoch_store: a persisted counter).
    std::uint64_t epoch = 0;
    // The receiver's run as the sender knows it (0: not heard yet). Entries and acks are for one
    // run of their receiver only: a datagram captured before the receiver restarted is refused.
    std::uint64_t receiver_epoch = 0;
    // Entries: this datagram's number in the sender's stream (64 bits: it never wraps).
    // Hello and ack: the sender's count of that message type, so a replayed one is refused.
    std::uint64_t sequence = 0;
    std::uint64_t ack = 0; // ack: every sequence up to this one has been received
    NodeId sender{};       // inside the MAC: a datagram reflected to its sender, or replayed
    NodeId receiver{};     // from another peer's address, is refused by name

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
    // How long before the deletion the sender last saw the flow. The receiver keeps a copy it
    // saw later than that (a copy that expired on a partitioned standby must not delete the
    // master's live flow).
    std::uint32_t idle_ms = 0;

    bool operator==(const DeletionEntry&) const = default;
};

using Entry = std::variant<ConnectionEntry, TemplateEntry, FtpStateEntry, DeletionEntry>;

struct Hello {
    std::array<std::uint8_t, 32> config_digest{}; // SHA-256 of what both nodes must agree on
    std::uint32_t entries_held = 0;               // for lbctl on the peer: how big my table is
    // The handshake: the first sequence of the stream the sender sends to the receiver run of
    // the header's receiver_epoch (0: none yet). It starts with a full dump; everything before
    // it is superseded, so the receiver starts there and asks for every number above it.
    std::uint64_t stream_start = 0;
    // The last hello number the sender heard from the receiver's current run: a hello that
    // echoes a recent one is fresh, not a replay, which is what lets a run with a smaller epoch
    // (a clock stepped back) replace a silent one.
    std::uint64_t echo = 0;

    bool operator==(const Hello&) const = default;
};

// Missing ranges of sequences the receiver asks again for (NACK), after `Header::ack`.
struct MissingRange {
    std::uint64_t first = 0;
    std::uint16_t count = 0;

    bool operator==(const MissingRange&) const = default;
};

// The run it acknowledges is the header's receiver_epoch: an acknowledgement delayed across that
// sender's restart must not acknowledge the new run's numbers.
struct Ack {
    std::vector<MissingRange> missing;

    bool operator==(const Ack&) const = default;
};

} // namespace lb::control::sync
