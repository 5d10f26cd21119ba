// The configuration as the user wrote it, after parsing and validation. Plain data: the
// dataplane never sees these types; control/snapshot_builder turns them into a Snapshot.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control/config/ip_address.hpp"
#include "control/config/regex.hpp"

namespace lb::control::config {

using Milliseconds = std::chrono::milliseconds;

// Where a value came from in the YAML file (1-based), kept so that semantic errors found after
// parsing can still point at the line and column that caused them.
struct Location {
    int line = 0;
    int column = 0;
    bool operator==(const Location&) const = default;
};

// Value equality. Every struct below compares every member (`operator== = default`), so two
// Configs are equal exactly when every value a user can see is equal: the reload
// (control/config/reload_plan) decides what changed with ==, and a member added to the model is
// compared without anyone remembering to. Source locations are members too (beside the values they
// describe, where the loader and validator look for them), but they are not values: moving a
// service down the file, or adding a comment above it, changes nothing. So the model holds them
// as SourceLocation, a Location whose == is always true; Location itself (as Diagnostic holds
// it) keeps its real equality.
struct SourceLocation : Location {
    SourceLocation() = default;
    SourceLocation(Location at) : Location(at) {} // NOLINT: implicit, as the loader assigns them
    bool operator==(const SourceLocation&) const { return true; }
};

enum class Protocol : std::uint8_t { tcp, udp };
enum class Scheduler : std::uint8_t { rr, wrr, lc, wlc, sh, mh };
enum class Forwarding : std::uint8_t { nat, dr, tunnel };

const char* to_string(Protocol p);
const char* to_string(Scheduler s);
const char* to_string(Forwarding f);

// An interface's `mtu`: from the smallest datagram every IPv4 host must accept (RFC 791) to
// jumbo frames; a link that carries IPv6 needs 1280 (RFC 8200 section 5).
inline constexpr unsigned min_mtu = 576;
inline constexpr unsigned min_ipv6_mtu = 1280;
inline constexpr unsigned max_mtu = 9000;

struct Interface {
    std::string name;
    std::string device;
    // The IPv4 address (one at most; 0: none), host byte order.
    std::uint32_t address = 0;
    std::uint8_t prefix_length = 0;
    std::optional<std::uint32_t> gateway;
    // IPv6 addresses (any number, global or unique local: the link-local one is the node's own,
    // derived from the port's MAC) and the IPv6 next hop, which may be link-local.
    std::vector<IpPrefix> ipv6_addresses;
    std::optional<IpAddress> ipv6_gateway;
    std::vector<SourceLocation> ipv6_address_locations; // one per ipv6_addresses entry
    SourceLocation ipv6_gateway_location;
    // The kernel exception path: a tap interface named `kernel_name` holding this address, so
    // that control-plane sockets (health checks, ssh to the node) work on the data network.
    bool kernel = true;
    std::string kernel_name; // default "lb-" + name
    SourceLocation location;
    SourceLocation kernel_name_location;
    SourceLocation address_location;
    SourceLocation gateway_location;
    // The largest IPv4 packet the link carries: tunnel forwarding's outer header must fit in it.
    std::uint16_t mtu = 1500;
    SourceLocation mtu_location;

    bool operator==(const Interface&) const = default;
    std::uint32_t netmask() const {
        return prefix_length == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix_length);
    }
    bool has_ipv4() const { return address != 0; }
    bool holds(std::uint32_t ip) const {
        return has_ipv4() && (ip & netmask()) == (address & netmask());
    }
    // On one of the interface's subnets, of either family.
    bool holds(const IpAddress& a) const;
    // One of the interface's own addresses.
    bool is_own(const IpAddress& a) const;
    // Its addresses of one family as written, for messages: "198.51.100.2/24",
    // "2001:db8::2/64, 2001:db8:1::2/64", "no IPv6 address".
    std::string subnets(Family f) const;
    bool has_family(Family f) const {
        return f == Family::ipv4 ? has_ipv4() : !ipv6_addresses.empty();
    }
};

struct PortRange {
    std::uint16_t first = 0;
    std::uint16_t last = 0;
    SourceLocation location;
    bool operator==(const PortRange&) const = default;
};

struct Persistence {
    Milliseconds timeout{300'000};
    // Which clients share a template: IPv4 ones by `netmask`, IPv6 ones by `prefix_length`
    // (IPVS's default /128; /64 keeps a client whose privacy address changes on one server).
    std::uint32_t netmask = 0xffffffff;
    std::uint8_t prefix_length = 128;
    SourceLocation prefix_length_location;
    bool operator==(const Persistence&) const = default;
};

// How a real server's health is checked (like keepalived's checkers). Set on a service and
// refined per real server: a server's `health_check` keys override the service's.
struct HealthCheck {
    enum class Type : std::uint8_t { tcp, http, send_expect, udp, exec };
    Type type = Type::tcp;
    Milliseconds interval{2000};
    Milliseconds timeout{1000};
    Milliseconds warmup{0};            // after start-up, before the first check
    unsigned rise = 2;                 // consecutive successes to come back up
    unsigned fall = 3;                 // consecutive failures to go down
    std::optional<std::uint16_t> port; // default: the server's port, else the service's
    // http
    std::string method = "GET";
    std::string path = "/";
    std::string host;
    std::vector<std::pair<unsigned, unsigned>> expect_status{{200, 399}};
    Regex body_regex;
    // send_expect and udp: send this, expect a reply starting with `expect` (or matching
    // `expect_regex`)
    std::string send;
    std::string expect;
    Regex expect_regex;
    // exec: a command run with /bin/sh -c; exit 0 up, anything else down
    std::string command;
    SourceLocation location;
    bool operator==(const HealthCheck&) const = default;
};

const char* to_string(HealthCheck::Type t);

struct RealServer {
    IpAddress address;
    std::optional<std::uint16_t> port;
    std::uint32_t weight = 1;
    std::optional<std::string> interface;    // overrides the subnet lookup
    std::optional<HealthCheck> health_check; // the service's, with this server's overrides
    SourceLocation location;
    SourceLocation port_location;
    SourceLocation interface_location;
    bool operator==(const RealServer&) const = default;
};

struct Service {
    std::string name;
    IpAddress vip;
    Protocol protocol = Protocol::tcp;
    // `port: 80` is one range of one port; `ports: [...]` is a port-range group.
    std::vector<PortRange> ports;
    bool port_group = false;
    Scheduler scheduler = Scheduler::wlc;
    Forwarding forwarding = Forwarding::nat;
    std::optional<Persistence> persistence;
    std::uint32_t maglev_table_size = 65537;
    // The NAT FTP helper. Unset: on for NAT services that include port 21.
    std::optional<bool> ftp;
    std::optional<HealthCheck> health_check;
    enum class OnFailure : std::uint8_t { drain, reset } on_failure = OnFailure::drain;
    // Fewer than `quorum` real servers up (healthy, weight above 0): the service is down, and
    // new connections go to the sorry server if there is one.
    unsigned quorum = 1;
    std::optional<RealServer> sorry_server;
    std::vector<RealServer> real_servers;
    SourceLocation location;
    SourceLocation ftp_location;
    SourceLocation name_location;
    SourceLocation vip_location;
    SourceLocation maglev_location;
    SourceLocation forwarding_location;
    bool operator==(const Service&) const = default;
};

struct Timeouts {
    Milliseconds tcp_established{900'000};
    Milliseconds tcp_syn{60'000};
    Milliseconds tcp_fin{120'000};
    Milliseconds tcp_close{10'000};
    Milliseconds udp{300'000};
    bool operator==(const Timeouts&) const = default;
};

// Sized at start-up. Round numbers rather than powers of two: rte_hash and rte_ring round
// their internals up to the next power of two above the count, so 2^20 costs ~7 B more per
// connection than 1,000,000.
struct Tables {
    std::uint32_t connections = 1'000'000;
    std::uint32_t persistence_templates = 250'000;
    std::uint32_t ftp_sessions = 65'536; // NAT FTP control connections followed at once
    bool operator==(const Tables&) const = default;
};

struct Dpdk {
    std::vector<std::string> eal_args;
    unsigned workers = 1;
    bool idle_backoff = true;
    bool operator==(const Dpdk&) const = default;
};

struct Stats {
    std::string file; // empty: no file is written
    Milliseconds interval{1000};
    std::string listen; // Prometheus endpoint "ADDRESS:PORT"; empty: none
    bool operator==(const Stats&) const = default;
};

// One VRRP instance (RFC 5798; v2 for older peers): which node owns its virtual addresses.
struct VrrpInstance {
    std::string name;
    std::string interface;
    std::uint8_t virtual_router_id = 0;
    std::uint8_t priority = 100; // 1..254; 255: the address owner
    Milliseconds advert_int{1000};
    unsigned version = 3;
    bool preempt = true;
    Milliseconds preempt_delay{0};
    std::string password; // v2 simple-password authentication (keepalived's auth_type PASS)
    std::vector<IpAddress> unicast_peers; // empty: multicast 224.0.0.18 (ff02::12)
    std::optional<IpAddress> unicast_source;
    // One family per instance (RFC 5798: an IPv4 and an IPv6 virtual router are two routers);
    // IPv6 needs version 3.
    std::vector<IpAddress> virtual_addresses;
    bool use_vmac = true; // 00:00:5e:00:01:<vrid>
    struct Garp {
        unsigned repeat = 5;
        Milliseconds delay{0};
        Milliseconds refresh{0}; // 0: no periodic refresh
        unsigned refresh_repeat = 1;
        bool operator==(const Garp&) const = default;
    } garp;
    // Tracking: what lowers the priority (weight < 0 while failing, > 0 added while healthy) or,
    // with weight 0, puts the instance in FAULT.
    struct Track {
        enum class Kind : std::uint8_t { service, interface, script } kind = Kind::service;
        std::string name;
        int weight = 0;
        SourceLocation location;
        bool operator==(const Track&) const = default;
    };
    std::vector<Track> track;
    // Hook commands (/bin/sh -c) run on entering each state, one at a time in order, with
    // arguments INSTANCE NAME STATE PRIORITY as keepalived's notify scripts get.
    struct Notify {
        std::string master, backup, fault, stop;
        bool operator==(const Notify&) const = default;
    } notify;
    SourceLocation location;
    SourceLocation interface_location;
    SourceLocation vrid_location;
    bool operator==(const VrrpInstance&) const = default;
};

// A tracking script: an exec check shared by the instances that track it.
struct VrrpScript {
    std::string name;
    HealthCheck check; // type exec: command, interval, timeout, rise, fall
    SourceLocation location;
    bool operator==(const VrrpScript&) const = default;
};

// Instances that change state together (an outside VIP and the inside gateway of NAT).
struct VrrpSyncGroup {
    std::string name;
    std::vector<std::string> instances;
    SourceLocation location;
    bool operator==(const VrrpSyncGroup&) const = default;
};

struct Vrrp {
    std::vector<VrrpInstance> instances;
    std::vector<VrrpScript> scripts;
    std::vector<VrrpSyncGroup> sync_groups;
    // Every transition as a line "INSTANCE NAME STATE PRIORITY", in order, to this FIFO
    // (created if missing).
    std::string notify_fifo;
    bool empty() const { return instances.empty(); }
    bool operator==(const Vrrp&) const = default;
};

struct Admin {
    std::string socket = "/run/lb/lb.sock"; // lbctl's way in; root only
    bool operator==(const Admin&) const = default;
};

// Session replication to the peer node (modules/replication, modules/replication,
// modules/replication/driver; README, "Failover without losing connections").
// Peers of one node's replication: enough for a rack of active nodes behind ECMP; each peer costs
// a send queue and a window of datagrams in flight.
constexpr std::size_t max_replication_peers = 16;

struct Replication {
    std::string interface; // a data interface: sync traffic uses this node's address on it
    // The other nodes' addresses on that interface (`peers`, or `peer` as a list of one): each
    // node sends what it forwards to every one of them and installs what any of them sends.
    std::vector<IpAddress> peers; // one family
    std::uint16_t port = 8848;
    std::string key_file; // control/config/key_file.hpp: the rules for its contents
    // A second key while the key is changed (empty: none): accepted on receive, never sent
    // under, so that every node can accept a key before any sends under it (README, "Key
    // rotation"). Both key files are read again at every reload.
    std::string previous_key_file;
    std::uint32_t cluster_id = 1;
    // Where the node keeps the last epoch it ran under (lb/epoch_store.hpp): each start takes a
    // larger one, whatever the wall clock says. Unwritable: the wall clock alone decides.
    std::string epoch_file = "/var/lib/lb/replication-epoch";
    // A new connection is sent only once it has lived this long (0: at once, as established or
    // for UDP on creation); one that is closing by then is never sent: short-lived flows cost
    // the link nothing, at the price of losing those younger than this at a failover.
    Milliseconds sync_after{0};
    SourceLocation location;
    SourceLocation interface_location;
    std::vector<SourceLocation> peer_locations; // one per address of `peers`
    SourceLocation key_file_location;
    SourceLocation previous_key_file_location;
    bool operator==(const Replication&) const = default;
};

// VIP announcement over BGP by a routing daemon beside lb (modules/bgp, modules/bgp/driver; README,
// "Scaling out"). lb writes the daemon's whole configuration and asks it to reload it.
struct BgpNeighbor {
    IpAddress address; // on a subnet of one of this node's interfaces
    std::uint32_t as = 0;
    bool bfd = false;
    SourceLocation location;
    SourceLocation address_location;
    bool operator==(const BgpNeighbor&) const = default;
};

struct Bgp {
    std::string daemon = "bird"; // the only one for now
    std::uint32_t local_as = 0;
    std::optional<std::uint32_t> router_id; // default: the first interface's address
    std::vector<BgpNeighbor> neighbors;
    bool announce_all = true;
    std::vector<std::string> announce; // service names, when !announce_all
    std::vector<SourceLocation> announce_locations;
    std::string socket = "/run/bird/bird.ctl"; // BIRD's control socket
    std::string config = "/run/lb/bird.conf";  // the BIRD configuration lb writes
    Milliseconds drain_timeout{30'000};        // clean shutdown: serve this long after withdrawing
    Milliseconds hold_time{9'000};             // BGP hold time (keepalives every third of it)
    Milliseconds bfd_interval{300};            // BFD transmit and receive interval
    unsigned bfd_multiplier = 3;               // missed BFD packets before the session is down
    // Where lbctl drain-node is kept across restarts (modules/bgp/drain_state.hpp): a node
    // drained for maintenance must not rejoin the ECMP group because lb or the host restarted.
    std::string drain_state_file = "/var/lib/lb/node-drained";
    SourceLocation location;
    SourceLocation router_id_location;
    SourceLocation drain_state_file_location;
    bool operator==(const Bgp&) const = default;
};

struct Config {
    std::string node_name;
    Admin admin;
    Dpdk dpdk;
    std::vector<Interface> interfaces;
    std::vector<Service> services;
    Timeouts timeouts;
    Tables tables;
    Stats stats;
    Vrrp vrrp;
    std::optional<Replication> replication; // absent: nothing is replicated
    std::optional<Bgp> bgp;                 // absent: no VIP is announced

    bool operator==(const Config&) const = default;
    const Interface* find_interface(const std::string& name) const;
    // The port whose connections the NAT FTP helper follows for `service`, or 0 when it is off:
    // 21 when the service includes it, else the service's single port with `ftp: true`.
    static std::uint16_t ftp_control_port(const Service& service);
    // The interface a real server is reached through: its explicit `interface`, else the one whose
    // subnet holds it, else the first interface with a gateway. nullptr when none qualifies.
    const Interface* egress_for(const RealServer& rs) const;
};

} // namespace lb::control::config
