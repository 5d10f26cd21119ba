// Per-worker counters. Each worker writes only its own block, so increments are plain
// load-add-store through std::atomic_ref with relaxed order: no locked instruction on the hot
// path, and readers on other threads still see whole 64-bit values.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace lb::dataplane {

constexpr std::size_t max_services = 1024;
constexpr std::size_t max_real_servers = 4096;

class Counter {
  public:
    void add(std::uint64_t n = 1) {
        std::atomic_ref<std::uint64_t> r(value_);
        r.store(r.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    std::uint64_t read() const {
        return std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(value_))
            .load(std::memory_order_relaxed);
    }

  private:
    alignas(8) std::uint64_t value_ = 0;
};

// Why a packet was dropped. Names are the user-facing label values (see drop_reason_name).
enum class DropReason : std::uint8_t {
    truncated,               // shorter than the headers it claims
    bad_ip_header,           // version, lengths, header checksum or IPv6 header chain wrong
    fragment,                // IPv4 and non-atomic IPv6 fragments are not reassembled
    bad_l4_header,           // TCP data offset or UDP length wrong, IPv6 UDP without checksum
    not_ip,                  // neither IPv4, IPv6 nor ARP (VLAN, LLDP, ...)
    ipv6_routing_header,     // an IPv6 routing header with segments left: not for us
    ipv6_not_enabled,        // IPv6 TCP, UDP or ICMPv6: not forwarded yet (docs/ipv6-plan.md)
    arp_ignored,             // ARP not for us
    icmp_ignored,            // ICMP other than echo request to us
    to_node,                 // TCP/UDP to the node's own address (no exception path yet)
    no_service,              // to a VIP port that no service claims, or an unknown destination
    no_connection,           // not a SYN (or a NAT reply) and no connection matches
    no_real_server,          // the scheduler found no available real server
    no_persistence_template, // a real server's own connection (FTP active data), no template
    table_full,              // connection table full: new connection refused
    template_table_full,     // persistence template table full
    nat_tuple_conflict,      // NAT reverse tuple already used by another connection
    neighbour_unresolved,    // no MAC yet for the real server or gateway
    tx_full,                 // the port's transmit queue was full
    not_master,              // to a VRRP address while this node is not its master
    control_ring_full,       // a VRRP advertisement found the control thread's ring full
    vrrp_not_configured,     // a VRRP advertisement while no VRRP instance is configured
    // Tunnel forwarding: the packet with its outer header would exceed the egress MTU. With DF
    // set it is answered with ICMP fragmentation needed (icmp_frag_needed_sent); with DF clear
    // it is dropped, as lb does not fragment (README, "Tunnel forwarding").
    too_big_for_tunnel,
    too_big_for_tunnel_no_df,
    no_headroom, // no room before the frame for the tunnel's outer header
    count_
};

constexpr std::size_t drop_reason_count = static_cast<std::size_t>(DropReason::count_);

const char* drop_reason_name(DropReason r);

struct TrafficCounters {
    Counter packets_in; // client → real server
    Counter bytes_in;
    Counter packets_out; // real server → client (NAT only: DR replies bypass us)
    Counter bytes_out;
    Counter connections; // created
};

// The NAT FTP helper's work, for operators and tests.
struct FtpCounters {
    Counter pasv_rewritten;     // 227 replies whose address was replaced by the VIP
    Counter pasv_unchanged;     // 227 replies that already named the VIP
    Counter expectations;       // passive data connections announced (227, 229)
    Counter active_connections; // active data connections set up (PORT, EPRT)
    Counter malformed;          // 227/229/PORT/EPRT lines that do not parse
    Counter bounce_refused;     // PORT/EPRT naming an address other than the client's
    Counter split_lines_held;   // segments cut before a line that continues in the next one
    Counter not_rewritable;     // no room in the buffer, chained buffers, state table full
};

struct alignas(64) WorkerCounters {
    Counter rx_packets;
    Counter rx_bytes;
    Counter tx_packets;
    Counter tx_bytes;
    Counter arp_replies;
    Counter resets_sent; // RSTs for unknown segments of on_failure: reset services
    Counter to_kernel;   // frames handed to the kernel exception path
    Counter from_kernel; // frames the kernel sent out
    Counter icmp_echo_replies;
    // ICMP fragmentation-needed errors sent to clients whose DF packets were too big for the
    // tunnel (drop reason too_big_for_tunnel).
    Counter icmp_frag_needed_sent;
    Counter vrrp_to_control; // VRRP advertisements handed to the control thread
    // Replication events not queued (the worker's ring was full): the refresh sweep sends
    // those entries later (dataplane/sync_events.hpp).
    Counter sync_events_lost;
    Counter busy_polls;
    Counter idle_polls;
    std::array<Counter, drop_reason_count> drops;
    FtpCounters ftp;
    std::array<TrafficCounters, max_services> services;
    std::array<TrafficCounters, max_real_servers> real_servers;

    void drop(DropReason r) { drops[static_cast<std::size_t>(r)].add(); }
};

} // namespace lb::dataplane
