// One statistics view: every counter lb reports, summed once from the per-worker counters and
// read once from the tables, health checks, VRRP, the control loop and the devices. The stats
// file and `lbctl --json stats` (control/stats_report), the lbctl tables (lb/admin_commands,
// lb/stats_table) and the Prometheus families (lb/metric_families) all render this one value,
// so they cannot disagree about what was counted. Plain data: no DPDK types, copyable, safe to
// render after the lock it was collected under is released.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "control/config/model.hpp"
#include "control/identity_registry.hpp"
#include "control/report/moment.hpp"
#include "modules/health/monitor.hpp"
#include "modules/replication/peer_link.hpp"
#include "modules/vrrp/router.hpp"

namespace lb::dataplane {
struct WorkerCounters;
class RealServerLoad;
} // namespace lb::dataplane

namespace lb::control::report {

struct TrafficTotals {
    std::uint64_t connections = 0; // created
    std::uint64_t packets_in = 0;  // client → real server
    std::uint64_t bytes_in = 0;
    std::uint64_t packets_out = 0; // real server → client (NAT only)
    std::uint64_t bytes_out = 0;
};

struct RealServerView {
    std::string server;                  // ADDRESS or ADDRESS:PORT, as configured
    std::string address;                 // ADDRESS
    std::uint32_t configured_weight = 0; // the file's, or lbctl's set-weight
    bool drained = false;                // by its health check: its weight in effect is 0
    std::uint32_t weight() const { return drained ? 0 : configured_weight; } // in effect
    std::int32_t connections_active = 0;
    TrafficTotals traffic;
    // "unchecked" (no health check), "pending" (first check still running), "up" or "down",
    // and the last failure's reason while it is not up.
    std::string health = "unchecked";
    std::string health_reason;
};

struct ServiceView {
    std::string name;
    std::int64_t connections_active = 0; // the sum over its real servers
    TrafficTotals traffic;
    std::vector<RealServerView> real_servers;
};

struct WorkerView {
    std::uint64_t rx_packets = 0;
    std::uint64_t tx_packets = 0;
    std::uint64_t busy_polls = 0; // polling rounds that received something
    std::uint64_t idle_polls = 0;
};

// One kind of NAT FTP helper event: its key in the stats document (`NAME_total`) and its
// `event` label in the metrics, which grew different names; both kept for their readers.
struct FtpEventTotal {
    const char* stats_name;
    const char* metric_event;
    std::uint64_t total = 0;
};

// What a device counts itself (read by lb/port_counters with rte_eth_stats_get).
struct DeviceCounters {
    std::uint64_t rx_packets = 0;
    std::uint64_t rx_missed = 0;  // receive ring full: dropped by the device, unclassified
    std::uint64_t rx_errors = 0;  // bad frames
    std::uint64_t rx_no_mbuf = 0; // no buffer in the pool to receive into
    std::uint64_t tx_packets = 0;
    std::uint64_t tx_errors = 0;
};

struct InterfaceCounters {
    std::string name; // the interface's name in the configuration
    std::string device;
    DeviceCounters data;          // its DPDK port
    bool has_kernel_path = false; // the tap of its kernel exception path
    DeviceCounters kernel_path;
};

// ISO 8601 in UTC with milliseconds, e.g. 2024-05-01T12:00:00.123Z.
std::string iso8601_ms(std::chrono::system_clock::time_point t);
// The monotonic clock in milliseconds (CLOCK_MONOTONIC's epoch: the boot, on Linux).
std::int64_t monotonic_ms(std::chrono::steady_clock::time_point t);

// Each VRRP instance's state and the advertisements discarded, as the VRRP control reports them.
struct VrrpReport {
    std::vector<vrrp::InstanceStatus> instances;
    std::array<std::uint64_t, vrrp::discard_reasons> discarded{};
    std::uint64_t notify_fifo_lost = 0;
};

// Session replication with one peer, for lbctl replication and the metrics.
struct ReplicationPeerReport {
    std::string peer; // ADDRESS:PORT
    sync::LinkStatus link;
    std::optional<std::uint64_t> last_heard_ago_ms;
    std::uint64_t peer_entries = 0;      // the peer's table size, as its hellos say
    std::uint64_t applied = 0;           // entries of the peer installed or updated here
    std::uint64_t unbound = 0;           // entries naming a service or server this node lacks
    std::uint64_t refused = 0;           // entries a full table (or an invalid field) refused
    std::uint64_t deleted = 0;           // connections removed at the peer's word
    std::uint64_t superseded = 0;        // entries older than this node's copy (ours kept)
    std::uint64_t deletions_refused = 0; // deletions of flows seen here later (ours kept)
    std::uint64_t send_errors = 0;       // datagrams the kernel refused to send
};

// Session replication (modules/replication/driver.hpp): the node's side, and one report per peer.
struct ReplicationReport {
    std::string local; // ADDRESS:PORT the node sends from and listens on
    std::vector<ReplicationPeerReport> peers;
    bool in_sync = false; // sync::SetState: what VRRP's preemption waits for
    // When the node last became in sync (nullopt: not in sync, or not known). Filled by the
    // replication control; lbctl shows it beside VRRP's last_transition so that the two can
    // be ordered.
    std::optional<Moment> in_sync_since;
    std::uint64_t events_lost = 0;     // workers' event rings were full (the sweep repairs)
    std::uint64_t unknown_senders = 0; // datagrams from an address that is no peer, dropped
    bool reset_unknown_flows = false;
};

// VIP announcement over BGP, for lbctl bgp and the metrics (modules/bgp/driver.hpp).
struct BgpVipReport {
    std::string vip;
    bool wanted = false;    // the announcement rule says announce (modules/bgp/announcement)
    bool announced = false; // in the BIRD configuration BIRD last confirmed loading
    std::string reason;
    std::vector<std::string> services;
};

struct BgpNeighborReport {
    std::string address;
    std::uint32_t as = 0;
    std::string protocol;  // BIRD's protocol name (lb_peer1, ...)
    bool bfd = false;      // configured
    std::string state;     // BIRD's protocol state: up, start, down, ... ("unknown": no BIRD)
    std::string info;      // BGP's: Established, Active, Connect, ...
    std::string bfd_state; // Up, Down, Init, ... (empty: no BFD session)
    bool established = false;
};

struct BgpReport {
    std::string bird;       // "connected", "connecting", "not reachable"
    std::string bird_error; // the last thing that went wrong talking to BIRD
    // BIRD's control connection: up (BIRD greeted lb) or down, since when (the wall clock for
    // people, the monotonic one for how long: a clock step must not change it), and why it is
    // down. Down since lb started, until BIRD first answers.
    bool bird_connected = false;
    Moment bird_since;
    std::string bird_down_reason; // empty while up
    std::string bird_version;     // BIRD's greeting, e.g. "BIRD 2.0.12 ready."
    std::string socket, config;
    bool drained = false;
    // When the node was drained (wall clock; nullopt: not drained, or a state file that does not
    // say), where that is kept, and why it will not survive a restart (empty: it will).
    std::optional<std::chrono::system_clock::time_point> drained_since;
    std::string drain_state_file;
    std::string drain_not_kept;
    bool shutting_down = false;
    std::uint64_t reconfigurations = 0; // configure commands BIRD accepted
    std::uint64_t bird_errors = 0;      // refused commands, lost connections, unwritable file
    std::vector<BgpVipReport> vips;
    std::vector<BgpNeighborReport> neighbors;
};

struct StatsView {
    std::string node;
    std::uint64_t rx_packets = 0;
    std::uint64_t rx_bytes = 0;
    std::uint64_t tx_packets = 0;
    std::uint64_t arp_replies = 0;
    std::uint64_t icmp_echo_replies = 0;
    std::uint64_t icmp_frag_needed = 0;     // sent for packets too big for a tunnel
    std::uint64_t connections_active = 0;   // in the connection table
    std::uint64_t connections_capacity = 0; // tables.connections
    std::uint64_t persistence_templates = 0;
    std::vector<std::pair<std::string, std::uint64_t>> drops; // by reason, every reason
    std::vector<FtpEventTotal> ftp;
    std::vector<WorkerView> workers;
    std::vector<ServiceView> services;
    double control_loop_lag_max_ms = 0; // the most since the stats file was last written
    std::vector<health::HealthStatus> health;
    std::vector<InterfaceCounters> interfaces;
    std::optional<VrrpReport> vrrp;               // only when VRRP instances are configured
    std::optional<ReplicationReport> replication; // only with a replication section
    std::optional<BgpReport> bgp;                 // only with a bgp section
};

// ADDRESS or ADDRESS:PORT (port 0: none), as lbctl, the stats and the metrics name servers.
std::string server_name(std::uint32_t address, std::uint16_t port);

// The counters' part of the view: the workers' counters summed, per service and real server of
// `config` (in its order), with the connections each real server has now (`load`) and whether
// its health check drained it (`down`) or how it stands (`health`, kept in the view). Tables,
// the loop's lateness, devices and VRRP are the caller's to fill in.
StatsView collect_stats(const config::Config& config, const IdentityRegistry& registry,
                        const std::vector<const dataplane::WorkerCounters*>& workers,
                        const dataplane::RealServerLoad& load, const health::DownSet& down,
                        std::vector<health::HealthStatus> health);

// The feature modules' parts (control/report/module_reports.hpp) into a view collect_stats made
// (health's statuses went to collect_stats already): VRRP, replication, BGP. Counters the
// workers keep for a module are added up here, the one place that sums workers' counters.
void add_module_parts(StatsView& view, StatsView parts,
                      const std::vector<const dataplane::WorkerCounters*>& workers);

} // namespace lb::control::report
