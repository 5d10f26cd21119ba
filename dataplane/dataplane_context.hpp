// The state every worker shares with the others and with the control thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "dataplane/clock.hpp"
#include "dataplane/connection_table.hpp"
#include "dataplane/ftp_state.hpp"
#include "dataplane/neighbour_table.hpp"
#include "dataplane/persistence_table.hpp"
#include "dataplane/scheduler.hpp"
#include "dataplane/snapshot.hpp"

struct rte_rcu_qsbr;
struct rte_ring;

namespace lb::dataplane {

struct DataplaneContext {
    std::atomic<const Snapshot*> snapshot{nullptr};
    ConnectionTable* connections = nullptr;
    PersistenceTable* templates = nullptr;
    FtpStateTable* ftp_states = nullptr; // NAT FTP helper sessions
    NeighbourTable* neighbours = nullptr;
    RealServerLoad* load = nullptr;
    rte_rcu_qsbr* rcu = nullptr; // workers are QSBR readers 0..workers-1
    // Frames the control thread wants sent (ARP requests); drained by worker 0. mbuf->port holds
    // the interface index.
    rte_ring* control_tx = nullptr;
    // Frames the workers hand to the control thread (VRRP advertisements); multi-producer.
    rte_ring* control_rx = nullptr;
    // Per VRRP instance: this node is its master and owns its addresses. Written by the
    // control thread, read by workers per packet to a VRRP-owned address.
    alignas(64) std::array<std::atomic<bool>, max_vrrp_instances> vrrp_master{};
    bool owns(std::uint8_t vrrp_instance) const {
        return vrrp_instance == no_vrrp_instance ||
               vrrp_master[vrrp_instance].load(std::memory_order_relaxed);
    }
    // Session replication holds a complete copy of the peer's sessions (or the peer is gone
    // after it did): a TCP segment of no known connection is answered with a reset, as a proxy
    // would, instead of leaving its client to retransmit for minutes. Never while a bulk dump
    // is still arriving: the connection may simply not be here yet. Written by the control
    // thread.
    std::atomic<bool> reset_unknown_flows{false};
    alignas(64) Clock clock;
    bool idle_backoff = true;
    std::atomic<bool> stop{false};
};

// What a removed connection holds besides its entry: its real server's load, a child of its
// persistence template, its FTP helper state. Called once, by whoever removed it (the collector,
// replication); an FTP expectation holds none of these. False for an expectation.
inline bool release_attachments(DataplaneContext& ctx, const Connection& c) {
    if (c.flags & conn_expectation)
        return false;
    ctx.load->add(c.real_server, -1);
    if (c.template_index != no_template)
        ctx.templates->detach(c.template_index);
    if (const std::uint32_t ftp = c.ftp_state.load(std::memory_order_relaxed);
        ftp != no_ftp_state && ctx.ftp_states)
        ctx.ftp_states->retire(ftp);
    return true;
}

} // namespace lb::dataplane
