// What the workers need to know about the configuration, immutable once published. The control
// thread builds a new Snapshot and swaps the pointer; workers load it once per burst and never
// see half a configuration. All addresses and ports are in network byte order.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include <rte_ether.h>

#include "dataplane/counters.hpp"
#include "dataplane/service_index.hpp"

namespace lb::dataplane {

constexpr std::size_t max_interfaces = 8;

enum class SchedulerKind : std::uint8_t { rr, wrr, lc, wlc, sh, mh };
enum class ForwardingKind : std::uint8_t { nat, dr, tunnel };

constexpr std::uint16_t no_port = 0xffff;

// VRRP: addresses owned by a VRRP instance are answered and forwarded only while this node is
// the instance's master (DataplaneContext::vrrp_master, flipped by the control thread without a
// new snapshot). Addresses of no instance are always ours.
constexpr std::size_t max_vrrp_instances = 64;
constexpr std::uint8_t no_vrrp_instance = 0xff;

struct VrrpAddressEntry {
    std::uint32_t address = 0;
    std::uint8_t instance = 0;
};

struct VrrpInstanceEntry {
    std::uint8_t interface = 0;
    rte_ether_addr mac{}; // source of ARP replies for its addresses: the virtual MAC or the port's
};

struct InterfaceEntry {
    std::uint16_t port_id = 0;
    // The kernel exception path: a tap port whose kernel side holds the node's address and
    // MAC. Traffic to the node's address goes there, and what the kernel sends goes out here.
    std::uint16_t kernel_port = no_port;
    rte_ether_addr mac{};
    std::uint32_t address = 0;
    std::uint32_t netmask = 0;
    // The largest IPv4 packet the link carries (host order): tunnel forwarding answers or
    // drops what would exceed it once encapsulated.
    std::uint16_t mtu = 1500;
    // The node's IPv6 addresses on the link (network order): its link-local one, derived from
    // `mac` as the kernel side is given it, first, then the configured ones. Empty: no IPv6 on
    // this link. Frames to them go to the kernel, which answers Neighbour Discovery and echo
    // for the node as it answers TCP (docs/ipv6-plan.md, step 4).
    std::vector<std::array<std::uint8_t, 16>> ipv6_addresses;

    // One of ipv6_addresses, all-nodes (ff02::1), or the solicited-node group of one of them
    // (ff02::1:ffXX:XXXX, RFC 4291 2.7.1): what the node's kernel listens to.
    bool is_for_node(const std::uint8_t* dst) const {
        static constexpr std::uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0,
                                                       0,    0,    0, 0, 0, 0, 0, 1};
        // ff02::1:ff00:0/104
        static constexpr std::uint8_t solicited_prefix[13] = {0xff, 0x02, 0, 0, 0,    0,   0,
                                                              0,    0,    0, 0, 0x01, 0xff};
        if (ipv6_addresses.empty())
            return false;
        if (std::memcmp(dst, all_nodes, 16) == 0)
            return true;
        const bool solicited = std::memcmp(dst, solicited_prefix, 13) == 0;
        for (const auto& a : ipv6_addresses)
            if (solicited ? std::memcmp(dst + 13, a.data() + 13, 3) == 0
                          : std::memcmp(dst, a.data(), 16) == 0)
                return true;
        return false;
    }
};

struct RealServerEntry {
    std::uint32_t address = 0;
    std::uint16_t port = 0; // 0: keep the packet's destination port
    std::uint32_t weight = 0;
    std::uint16_t service = 0;
    std::uint8_t egress = 0;     // interface index
    std::uint32_t neighbour = 0; // index into the NeighbourTable: the next hop's MAC
    // No longer configured (a reload removed it): takes no new connection, and its
    // established ones keep flowing until they end.
    bool removed = false;
    bool available() const { return weight > 0 && !removed; }
};

struct ServiceEntry {
    std::uint32_t vip = 0;
    std::uint8_t protocol = 0; // IPPROTO_TCP / IPPROTO_UDP
    ForwardingKind forwarding = ForwardingKind::nat;
    SchedulerKind scheduler = SchedulerKind::wlc;
    // NAT FTP helper: the control port (network order) whose connections it watches; 0 = off.
    std::uint16_t ftp_control_port = 0;
    bool port_group = false; // `ports:`: one service, one persistence scope over several ports
    // Its port, or its group's first port (network order): with vip, protocol and port_group,
    // how replication names the service to the peer (modules/replication/wire_format.hpp).
    std::uint16_t identity_port = 0;
    // on_failure: reset: a TCP segment of no known connection is answered with a RST (the
    // client of a reset connection learns of it from its next segment).
    bool reset_unknown = false;
    bool persistent = false;
    std::uint8_t vrrp_instance = no_vrrp_instance; // the instance that owns the VIP, if any
    std::uint32_t persistence_timeout_ms = 0;
    std::uint32_t persistence_netmask = 0xffffffff; // network order
    // Its configured real servers (numbers into Snapshot::real_servers), in file order.
    std::vector<std::uint16_t> members;
    std::uint32_t max_weight = 0;
    std::uint32_t weight_gcd = 1;
    // Maglev lookup table (mh and sh): slot → real-server number, maglev_no_backend when no
    // server is available.
    std::vector<std::uint16_t> maglev;
};

struct TimeoutsMs {
    std::uint32_t tcp_established = 900'000;
    std::uint32_t tcp_syn = 60'000;
    std::uint32_t tcp_fin = 120'000;
    std::uint32_t tcp_close = 10'000;
    std::uint32_t udp = 300'000;
};

struct Snapshot {
    std::uint64_t generation = 0;
    std::vector<InterfaceEntry> interfaces;
    // Indexed by the stable numbers of control/identity_registry.hpp: entries of services and
    // servers removed by a reload stay (no members, marked removed) for their draining connections.
    std::vector<ServiceEntry> services;
    std::vector<RealServerEntry> real_servers;
    ServiceIndex service_index; // (vip, protocol, port) → service; also knows every VIP
    TimeoutsMs timeouts;
    bool has_ftp = false; // some service runs the FTP helper: look for expectations
    std::vector<VrrpInstanceEntry> vrrp_instances;
    std::vector<VrrpAddressEntry> vrrp_addresses; // a handful: scanned linearly (ARP, ICMP)

    // The instance owning `address`, or no_vrrp_instance.
    std::uint8_t vrrp_instance_of(std::uint32_t address) const {
        for (const auto& a : vrrp_addresses)
            if (a.address == address)
                return a.instance;
        return no_vrrp_instance;
    }
};

} // namespace lb::dataplane
