// One load-balanced connection: where it goes, its TCP state and when it was last seen.
// 64 bytes, one cache line. Fields written after creation are atomics because a NAT
// connection's two directions may be handled by two workers at once.
#pragma once

#include <atomic>
#include <cstdint>

#include "dataplane/flow_key.hpp"

namespace lb::dataplane {

enum class TcpState : std::uint8_t {
    none,         // UDP
    syn_sent,     // client SYN seen
    syn_received, // server SYN-ACK seen (NAT only: DR never sees the server)
    established,
    fin_wait, // a FIN seen from either side
    close,    // RST seen
};

const char* tcp_state_name(TcpState s);

enum ConnectionFlags : std::uint8_t {
    conn_nat = 1 << 0,          // a reverse key exists and replies are rewritten
    conn_has_template = 1 << 1, // created under a persistence template
    // Not a connection: an FTP passive-mode expectation, keyed (client, VIP, 0, data port),
    // telling which real server a data connection to that port belongs to.
    conn_expectation = 1 << 2,
    // Its service resets connections on failure: keep the client's sequence numbers.
    conn_track_sequence = 1 << 3,
    // Tunnel forwarding: the client's packets go to the real server inside an IPIP header.
    conn_tunnel = 1 << 4,
};

constexpr std::uint32_t no_ftp_state = 0xffffffff;

constexpr std::uint32_t no_template = 0xffffffff;

// What a connection is, fixed at creation: the part a worker fills in before publishing it.
struct ConnectionSpec {
    FlowKey key;                  // client → VIP, as the client sends it
    std::uint32_t rs_address = 0; // network order
    std::uint16_t rs_port = 0;    // network order
    std::uint16_t service = 0;
    std::uint16_t real_server = 0; // global real-server index in the snapshot
    std::uint8_t ingress = 0;      // interface the client's packets come in on
    std::uint8_t flags = 0;
    std::uint8_t client_mac[6] = {}; // replies go back to the MAC the client's packets came from
    std::uint32_t template_index = no_template;

    // The tuple of the real server's replies in NAT.
    FlowKey reply_key() const {
        FlowKey k;
        k.src_ip = rs_address;
        k.dst_ip = key.src_ip;
        k.src_port = rs_port;
        k.dst_port = key.src_port;
        k.protocol = key.protocol;
        return k;
    }
};

// A published connection: the spec plus what changes while it lives.
struct alignas(64) Connection : ConnectionSpec {
    std::atomic<TcpState> state{TcpState::none};
    std::atomic<std::uint8_t> live{0}; // 1 from publication until the collector retires it
    std::atomic<std::uint32_t> last_seen_ms{0};
    std::atomic<std::uint32_t> timeout_ms{0};
    // FTP control connections in NAT: the helper's state (FtpStateTable index), set just after
    // the connection is published.
    std::atomic<std::uint32_t> ftp_state{no_ftp_state};
    // TCP, as the client last showed them (host order): the next sequence number it will send
    // and the next one it expects. What a reset needs to be accepted by both ends.
    std::atomic<std::uint32_t> client_next_seq{0};
    std::atomic<std::uint32_t> client_ack{0};

    // Touch only when the millisecond changed: keeps the line clean on the fast path.
    void touch(std::uint32_t now) {
        if (last_seen_ms.load(std::memory_order_relaxed) != now)
            last_seen_ms.store(now, std::memory_order_relaxed);
    }
};

static_assert(sizeof(Connection) == 64);

} // namespace lb::dataplane
