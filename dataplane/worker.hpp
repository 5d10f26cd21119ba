// A worker lcore: rx_burst → parse → classify → connection lookup (in bulk) → act → tx_burst.
// No syscalls, no heap allocation and no locks on the established-flow path.
#pragma once

#include <array>
#include <cstdint>

#include <rte_mbuf.h>

#include "dataplane/counters.hpp"
#include "dataplane/dataplane_context.hpp"
#include "dataplane/ftp_helper.hpp"
#include "dataplane/packet_parser.hpp"
#include "dataplane/scheduler.hpp"
#include "dataplane/sync_events.hpp"

namespace lb::dataplane {

constexpr std::uint16_t burst_size = 32;

// Frames waiting to be sent on one interface.
struct TxBatch {
    std::array<rte_mbuf*, 2 * burst_size> frames{};
    std::uint16_t count = 0;
};

class Worker {
  public:
    // `sync_events`: this worker's replication ring (single producer), or nullptr without
    // replication.
    Worker(DataplaneContext& context, unsigned id, WorkerCounters& counters,
           rte_ring* sync_events = nullptr);

    // Handles at most burst_size frames received on interface index `ingress`, under the
    // snapshot published now; replies and forwarded frames are queued in tx(); dropped frames
    // are freed and counted. For tests and the benchmark: run() calls process_burst.
    // noexcept: the packet path cannot throw (compiled with -fno-exceptions, no throwing calls;
    // docs/design.md, "The worker never throws").
    void process(rte_mbuf** frames, std::uint16_t count, std::uint8_t ingress,
                 std::uint32_t now) noexcept;
    TxBatch& tx(std::uint8_t interface) { return tx_[interface]; }
    // Frames for the kernel exception path of an interface.
    TxBatch& kernel_tx(std::uint8_t interface) { return kernel_tx_[interface]; }
    // The lcore loop; returns when context.stop is set.
    int run() noexcept;

  private:
    // A burst's TCP and UDP frames are looked up in one bulk lookup, whose hit mask has a bit
    // per key: there must never be more of them than a bulk lookup takes.
    static constexpr std::uint32_t max_pending = burst_size * 2;
    static_assert(max_pending <= FlowTable::max_bulk, "a burst needs one bulk lookup");

    // Adopts the snapshot loaded for this loop iteration (or this process() call); a new one
    // restarts the round-robin cursors.
    void use_snapshot(const Snapshot* snapshot);
    // process() without loading the snapshot: run() loads it once per loop iteration.
    void process_burst(rte_mbuf** frames, std::uint16_t count, std::uint8_t ingress,
                       std::uint32_t now);
    // Sends every queued frame (rte_eth_tx_burst on this worker's queue).
    void flush(const Snapshot& s);

    struct Pending {
        rte_mbuf* frame;
        ParsedFrame parsed;
        std::int32_t service; // >= 0: to a VIP service; else one of the sentinels below
    };

    void handle_arp(rte_mbuf* m, const ParsedFrame& f, std::uint8_t ingress, std::uint32_t now);
    void handle_icmp(rte_mbuf* m, const ParsedFrame& f, std::uint8_t ingress);
    void handle_ipv6(rte_mbuf* m, const ParsedFrame& f, std::uint8_t ingress);
    // A new connection between its two steps.
    struct NewConnection {
        Pending* pending;
        // Another frame of the same new flow earlier in this burst: it follows that one's
        // connection (index into the burst's new connections) instead of choosing again.
        std::int32_t follows;
        std::uint32_t index; // reserved entry
        ConnectionSpec spec;
        TcpState state;
        std::uint32_t timeout;
    };
    // Pending::service for a VIP port no service claims: a draining connection of a removed
    // service or an FTP passive data connection may still match it.
    static constexpr std::int32_t unclaimed_port = -2;
    // Pending::service before the service index was asked: established frames never ask it
    // (their connection names the service), only misses do.
    static constexpr std::int32_t service_not_looked_up = -3;
    // classify(): a VIP this node is the VRRP backup of.
    static constexpr std::int32_t not_master = -4;
    static constexpr std::int32_t no_service = -1;
    // The service a TCP/UDP frame is for: its index, unclaimed_port, no_service (not a VIP:
    // possibly a NAT reply), or not_master.
    std::int32_t classify(const ParsedFrame& f, bool vrrp) const;
    // A new connection announced by the FTP helper (a passive data port): true if prepared.
    bool prepare_from_expectation(Pending& p, std::uint8_t ingress, NewConnection& out);
    // Step 1: decide (or drop the frame and return false); step 2: publish and forward.
    bool prepare_new_connection(Pending& p, std::uint8_t ingress, std::uint32_t now,
                                NewConnection& out);
    void finish_new_connection(NewConnection& n, std::uint32_t now);
    void forward_to_real_server(rte_mbuf* m, const ParsedFrame& f, Connection& c,
                                std::uint32_t now);
    void forward_reply_to_client(rte_mbuf* m, const ParsedFrame& f, Connection& c,
                                 std::uint32_t now);
    // Tunnel forwarding: true when the packet still fits the egress MTU with its outer header;
    // otherwise the frame is answered with ICMP fragmentation needed (DF set) or dropped, and
    // counted.
    bool fits_tunnel(rte_mbuf* m, const ParsedFrame& f, const Connection& c,
                     const RealServerEntry& rs);
    // Per-service and per-real-server packets and bytes, one direction.
    void count_traffic(const Connection& c, std::uint32_t length, Counter TrafficCounters::*packets,
                       Counter TrafficCounters::*bytes);
    // Keeps what a reset of this connection would need (see Connection::client_next_seq).
    static void remember_client_sequence(Connection& c, const ParsedFrame& f);
    void update_tcp_state(Connection& c, std::uint8_t flags, bool from_client);
    // A new connection's real server and the persistence template it is attached to, or, when
    // there is none, the reason its frame is dropped.
    struct ServerChoice {
        int real_server = no_real_server; // global index, or no_real_server
        std::uint32_t template_index = no_template;
        DropReason refusal = DropReason::no_real_server; // when real_server is no_real_server
        bool chosen() const { return real_server != no_real_server; }
    };
    // For a connection the real server opened itself: the client's template's server, or
    // no_persistence_template when there is no valid template. Never schedules.
    ServerChoice follow_template(std::uint16_t service, const FlowKey& key, std::uint32_t now);
    // The template's server is still the same entry of this service in the current snapshot.
    bool still_configured(std::uint16_t service, const TemplateTarget& t) const;
    // The scheduler's choice, through the client's persistence template if the service has
    // persistence (no_real_server, or template_table_full when no template can be made).
    ServerChoice choose_real_server(std::uint16_t service, const FlowKey& key, std::uint32_t now);
    void enqueue(std::uint8_t interface, rte_mbuf* m);
    // To the node's kernel through the interface's exception path.
    void to_kernel(std::uint8_t interface, rte_mbuf* m);
    // What the kernel sent through the exception paths goes out of the data ports.
    unsigned forward_from_kernel(const Snapshot& s);
    void drop(rte_mbuf* m, DropReason reason);
    void drain_control_frames();
    // A VRRP advertisement: the control thread runs the protocol.
    void to_control(rte_mbuf* m, std::uint8_t ingress);
    void idle(unsigned& idle_polls);

    // Per-burst scratch, kept here rather than on the stack so that nothing is initialised per
    // burst.
    Pending pending_[max_pending];
    NewConnection fresh_[max_pending];

    DataplaneContext& ctx_;
    unsigned id_;
    WorkerCounters& counters_;
    SyncEventWriter sync_;
    FtpHelper ftp_;
    const Snapshot* snapshot_ = nullptr;
    std::uint64_t snapshot_generation_ = ~std::uint64_t{0};
    SchedulerCursors cursors_;
    std::array<TxBatch, max_interfaces> tx_{};
    std::array<TxBatch, max_interfaces> kernel_tx_{};
};

// Inlined: once per forwarded frame (a call each cost ~1 ns on the established path).
[[gnu::always_inline]] inline void Worker::enqueue(std::uint8_t interface, rte_mbuf* m) {
    TxBatch& b = tx_[interface];
    if (b.count == b.frames.size()) {
        drop(m, DropReason::tx_full);
        return;
    }
    b.frames[b.count++] = m;
}

} // namespace lb::dataplane
