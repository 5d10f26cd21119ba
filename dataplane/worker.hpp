// A worker lcore: rx_burst → parse → classify → connection lookup (in bulk) → act → tx_burst.
// No syscalls, no heap allocation and no locks on the established-flow path.
#pragma once

#include <array>
#include <cstdint>

#include <rte_mbuf.h>

#include "dataplane/counters.hpp"
#include "dataplane/dataplane_context.hpp"
#include "dataplane/packet_parser.hpp"
#include "dataplane/scheduler.hpp"

namespace lb::dataplane {

constexpr std::uint16_t burst_size = 32;

// Frames waiting to be sent on one interface.
struct TxBatch {
    std::array<rte_mbuf*, 2 * burst_size> frames{};
    std::uint16_t count = 0;
};

class Worker {
  public:
    Worker(DataplaneContext& context, unsigned id, WorkerCounters& counters);

    // Handles frames received on interface index `ingress`; replies and forwarded frames are
    // queued in tx(); dropped frames are freed and counted.
    void process(rte_mbuf** frames, std::uint16_t count, std::uint8_t ingress, std::uint32_t now);
    TxBatch& tx(std::uint8_t interface) { return tx_[interface]; }
    // Sends every queued frame (rte_eth_tx_burst on this worker's queue).
    void flush();
    // The lcore loop; returns when context.stop is set.
    int run();

  private:
    struct Pending {
        rte_mbuf* frame;
        ParsedFrame parsed;
        std::int32_t service; // >= 0: to a VIP service; -1: possibly a NAT reply
    };

    void handle_arp(rte_mbuf* m, const ParsedFrame& f, std::uint8_t ingress, std::uint32_t now);
    void handle_icmp(rte_mbuf* m, const ParsedFrame& f, std::uint8_t ingress);
    void handle_new_connection(Pending& p, std::uint8_t ingress, std::uint32_t now);
    void forward_to_real_server(rte_mbuf* m, const ParsedFrame& f, Connection& c,
                                std::uint32_t now);
    void forward_reply_to_client(rte_mbuf* m, const ParsedFrame& f, Connection& c,
                                 std::uint32_t now);
    // Per-service and per-real-server packets and bytes, one direction.
    void count_traffic(const Connection& c, std::uint32_t length, Counter TrafficCounters::*packets,
                       Counter TrafficCounters::*bytes);
    void update_tcp_state(Connection& c, std::uint8_t flags, bool from_client);
    int choose_real_server(std::uint16_t service, const FlowKey& key, std::uint32_t now,
                           std::uint32_t& template_index);
    void enqueue(std::uint8_t interface, rte_mbuf* m);
    void drop(rte_mbuf* m, DropReason reason);
    void drain_control_frames();
    void idle(unsigned& idle_polls);

    DataplaneContext& ctx_;
    unsigned id_;
    WorkerCounters& counters_;
    const Snapshot* snapshot_ = nullptr;
    std::uint64_t snapshot_generation_ = ~std::uint64_t{0};
    SchedulerCursors cursors_;
    std::array<TxBatch, max_interfaces> tx_{};
    // Keys of the connections this burst created: a second packet of one new flow in the same
    // burst (a retransmitted SYN) must find the first one's connection.
    std::array<FlowKey, burst_size> created_keys_{};
    std::array<std::uint32_t, burst_size> created_indices_{};
    std::uint32_t created_count_ = 0;
};

} // namespace lb::dataplane
