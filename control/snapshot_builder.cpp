#include "control/snapshot_builder.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <rte_byteorder.h>

#include "dataplane/maglev_table.hpp"
#include "modules/vrrp/frames.hpp"

namespace lb::control {

using namespace lb::dataplane;

namespace {

std::uint8_t interface_index(const config::Config& c, const config::Interface* i) {
    return static_cast<std::uint8_t>(i - c.interfaces.data());
}

SchedulerKind scheduler_kind(config::Scheduler s) {
    switch (s) {
    case config::Scheduler::rr:
        return SchedulerKind::rr;
    case config::Scheduler::wrr:
        return SchedulerKind::wrr;
    case config::Scheduler::lc:
        return SchedulerKind::lc;
    case config::Scheduler::wlc:
        return SchedulerKind::wlc;
    case config::Scheduler::sh:
        return SchedulerKind::sh;
    case config::Scheduler::mh:
        return SchedulerKind::mh;
    }
    return SchedulerKind::wlc;
}

ForwardingKind forwarding_kind(config::Forwarding f) {
    switch (f) {
    case config::Forwarding::nat:
        return ForwardingKind::nat;
    case config::Forwarding::dr:
        return ForwardingKind::dr;
    case config::Forwarding::tunnel:
        return ForwardingKind::tunnel;
    }
    return ForwardingKind::nat;
}

std::uint32_t ms(config::Milliseconds d) {
    return static_cast<std::uint32_t>(d.count());
}

void add_interfaces(const config::Config& c, const std::vector<PortBinding>& ports,
                    NeighbourTable& neighbours, Snapshot& s) {
    if (c.interfaces.size() > max_interfaces)
        throw std::runtime_error(
            fmt::format("at most {} interfaces are supported", max_interfaces));
    if (ports.size() != c.interfaces.size())
        throw std::logic_error("one port binding per interface is needed");
    for (std::size_t i = 0; i < c.interfaces.size(); ++i) {
        const auto& ci = c.interfaces[i];
        InterfaceEntry e;
        e.port_id = ports[i].port_id;
        e.kernel_port = ports[i].kernel_port;
        e.mac = ports[i].mac;
        e.address = rte_cpu_to_be_32(ci.address);
        e.netmask = rte_cpu_to_be_32(ci.netmask());
        e.mtu = ci.mtu;
        if (!ci.ipv6_addresses.empty()) {
            std::array<std::uint8_t, 6> mac;
            std::copy(std::begin(e.mac.addr_bytes), std::end(e.mac.addr_bytes), mac.begin());
            e.ipv6_addresses.push_back(config::eui64_link_local(mac).bytes);
            for (const auto& p : ci.ipv6_addresses)
                e.ipv6_addresses.push_back(p.address.bytes);
        }
        s.interfaces.push_back(e);
        if (ci.gateway)
            neighbours.intern(rte_cpu_to_be_32(*ci.gateway), static_cast<std::uint8_t>(i));
    }
}

// Everything the previous snapshot knew starts out removed; what the configuration still has
// is overwritten afterwards.
void keep_previous_as_removed(const Snapshot& previous, Snapshot& s) {
    s.services = previous.services;
    for (auto& svc : s.services) {
        svc.members.clear();
        svc.maglev.clear();
    }
    s.real_servers = previous.real_servers;
    for (auto& rs : s.real_servers) {
        rs.removed = true;
        rs.weight = 0;
    }
}

// A service's own settings, without its real servers.
ServiceEntry service_settings(const config::Service& cs) {
    ServiceEntry svc;
    svc.vip = rte_cpu_to_be_32(cs.vip.ipv4()); // IPv4 only until IPv6 lands (validator.cpp)
    svc.protocol = cs.protocol == config::Protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP;
    svc.forwarding = forwarding_kind(cs.forwarding);
    svc.scheduler = scheduler_kind(cs.scheduler);
    svc.port_group = cs.port_group;
    if (!cs.ports.empty())
        svc.identity_port = rte_cpu_to_be_16(cs.ports.front().first);
    svc.reset_unknown = cs.on_failure == config::Service::OnFailure::reset;
    if (const std::uint16_t ftp = config::Config::ftp_control_port(cs))
        svc.ftp_control_port = rte_cpu_to_be_16(ftp);
    if (cs.persistence) {
        svc.persistent = true;
        svc.persistence_timeout_ms = ms(cs.persistence->timeout);
        svc.persistence_netmask = rte_cpu_to_be_32(cs.persistence->netmask);
    }
    return svc;
}

// Enters the real servers of one service into a snapshot, numbering them in the registry.
class RealServerWriter {
  public:
    RealServerWriter(const config::Config& c, NeighbourTable& neighbours,
                     IdentityRegistry& registry, Snapshot& s, std::uint16_t service)
        : c_(c), neighbours_(neighbours), registry_(registry), s_(s), service_(service) {}

    // One real-server entry, numbered under `key` (the service's name, or its sorry key).
    std::uint16_t enter(const config::RealServer& crs, const std::string& key, bool healthy) {
        const std::uint32_t address = crs.address.ipv4(); // IPv4 only yet (validator.cpp)
        const config::Interface* egress = c_.egress_for(crs);
        if (!egress)
            throw std::logic_error("validated configuration has an unreachable server");
        const std::uint16_t rs_id = registry_.real_server(key, address, crs.port.value_or(0));
        if (s_.real_servers.size() <= rs_id)
            s_.real_servers.resize(rs_id + 1u);
        RealServerEntry rs;
        rs.address = rte_cpu_to_be_32(address);
        rs.port = crs.port ? rte_cpu_to_be_16(*crs.port) : 0;
        rs.weight = healthy ? crs.weight : 0;
        rs.service = service_;
        rs.egress = interface_index(c_, egress);
        const std::uint32_t next_hop =
            egress->holds(address) ? address : egress->gateway.value_or(address);
        rs.neighbour = neighbours_.intern(rte_cpu_to_be_32(next_hop), rs.egress);
        s_.real_servers[rs_id] = rs;
        return rs_id;
    }

  private:
    const config::Config& c_;
    NeighbourTable& neighbours_;
    IdentityRegistry& registry_;
    Snapshot& s_;
    std::uint16_t service_;
};

MaglevBackend maglev_backend(const config::RealServer& crs, std::uint32_t weight, bool usable) {
    // Bit for bit what it was before addresses had families: nodes of two versions must build
    // the same Maglev tables, or mh flows move at a rolling upgrade.
    return {(std::uint64_t{crs.address.ipv4()} << 16) | crs.port.value_or(0), weight, usable};
}

// The service's members, weights and Maglev table: its real servers (those in `down` drained),
// or its sorry server alone when fewer than its quorum are up.
void add_members(const config::Service& cs, const health::DownSet* down, RealServerWriter& writer,
                 const Snapshot& s, ServiceEntry& svc) {
    std::vector<MaglevBackend> backends;
    std::uint32_t weight_gcd = 0;
    unsigned up = 0;
    for (const auto& crs : cs.real_servers) {
        const bool healthy = !down || !down->count(health::ServerKey{cs.name, crs.address.ipv4(),
                                                                     crs.port.value_or(0)});
        const std::uint16_t rs_id = writer.enter(crs, cs.name, healthy);
        const std::uint32_t weight = s.real_servers[rs_id].weight;
        up += weight > 0;
        svc.max_weight = std::max(svc.max_weight, weight);
        weight_gcd = std::gcd(weight_gcd, weight);
        svc.members.push_back(rs_id);
        backends.push_back(maglev_backend(crs, crs.weight, crs.weight > 0 && healthy));
    }
    // The sorry server always has its entry (and its MAC kept resolved), used or not.
    const std::optional<std::uint16_t> sorry =
        cs.sorry_server ? std::optional(writer.enter(*cs.sorry_server, sorry_key(cs.name), true))
                        : std::nullopt;
    if (up < cs.quorum && sorry) {
        // Below quorum: new connections go to the sorry server alone; the real servers keep
        // their entries for the connections they still have.
        svc.members = {*sorry};
        svc.max_weight = std::max<std::uint32_t>(s.real_servers[*sorry].weight, 1);
        weight_gcd = svc.max_weight;
        backends = {maglev_backend(*cs.sorry_server, svc.max_weight, true)};
    }
    svc.weight_gcd = weight_gcd == 0 ? 1 : weight_gcd;
    if (svc.scheduler == SchedulerKind::mh || svc.scheduler == SchedulerKind::sh) {
        // Slots name members; store the servers' numbers so the worker needs no mapping.
        svc.maglev = build_maglev_table(backends, cs.maglev_table_size);
        for (auto& slot : svc.maglev)
            if (slot != maglev_no_backend)
                slot = svc.members[slot];
    }
}

void add_service(const config::Config& c, const config::Service& cs, NeighbourTable& neighbours,
                 IdentityRegistry& registry, const health::DownSet* down, Snapshot& s) {
    const std::uint16_t id = registry.service(cs.name);
    if (s.services.size() <= id)
        s.services.resize(id + 1u);
    ServiceEntry svc = service_settings(cs);
    s.has_ftp = s.has_ftp || svc.ftp_control_port != 0;
    RealServerWriter writer(c, neighbours, registry, s, id);
    add_members(cs, down, writer, s, svc);
    for (const auto& range : cs.ports)
        for (std::uint32_t port = range.first; port <= range.last; ++port)
            s.service_index.add(svc.vip, svc.protocol,
                                rte_cpu_to_be_16(static_cast<std::uint16_t>(port)), id);
    s.services[id] = std::move(svc);
}

// Which instance owns which address, by the instance's ownership slot (stable across reloads:
// IdentityRegistry::vrrp_slots).
void add_vrrp(const config::Config& c, const std::vector<PortBinding>& ports,
              NeighbourTable& neighbours, IdentityRegistry& registry, Snapshot& s) {
    std::vector<IdentityRegistry::VrrpKey> keys;
    for (const auto& v : c.vrrp.instances)
        keys.emplace_back(v.name, v.interface, v.virtual_router_id);
    const auto slots = registry.vrrp_slots(keys, max_vrrp_instances);
    for (std::size_t i = 0; i < c.vrrp.instances.size(); ++i) {
        const auto& v = c.vrrp.instances[i];
        const config::Interface* iface = c.find_interface(v.interface);
        VrrpInstanceEntry e;
        e.interface = interface_index(c, iface);
        e.mac = ports[e.interface].mac;
        if (v.use_vmac) {
            const auto vmac = vrrp::virtual_mac(v.virtual_router_id);
            std::copy(vmac.begin(), vmac.end(), e.mac.addr_bytes);
        }
        if (s.vrrp_instances.size() <= slots[i])
            s.vrrp_instances.resize(slots[i] + 1);
        s.vrrp_instances[slots[i]] = e;
        for (const auto& a : v.virtual_addresses)
            s.vrrp_addresses.push_back({rte_cpu_to_be_32(a.ipv4()), slots[i]});
        // Unicast advertisements need the peers' MACs: the resolver keeps them fresh.
        for (const auto& peer : v.unicast_peers)
            neighbours.intern(rte_cpu_to_be_32(peer.ipv4()), e.interface);
    }
    for (auto& svc : s.services)
        svc.vrrp_instance = s.vrrp_instance_of(svc.vip);
}

TimeoutsMs timeouts(const config::Config& c) {
    TimeoutsMs t;
    t.tcp_established = ms(c.timeouts.tcp_established);
    t.tcp_syn = ms(c.timeouts.tcp_syn);
    t.tcp_fin = ms(c.timeouts.tcp_fin);
    t.tcp_close = ms(c.timeouts.tcp_close);
    t.udp = ms(c.timeouts.udp);
    return t;
}

} // namespace

std::string sorry_key(const std::string& service) {
    return service + "\x1fsorry";
}

std::unique_ptr<Snapshot> build_snapshot(const config::Config& c,
                                         const std::vector<PortBinding>& ports,
                                         NeighbourTable& neighbours, IdentityRegistry& registry,
                                         const Snapshot* previous, std::uint64_t generation,
                                         const health::DownSet* down) {
    auto s = std::make_unique<Snapshot>();
    s->generation = generation;
    add_interfaces(c, ports, neighbours, *s);
    if (previous)
        keep_previous_as_removed(*previous, *s);
    for (const auto& cs : c.services)
        add_service(c, cs, neighbours, registry, down, *s);
    add_vrrp(c, ports, neighbours, registry, *s);
    // ARP and ICMP keep answering for the VIPs of removed services while their connections
    // drain; only configured ports take new connections.
    for (const auto& svc : s->services)
        if (svc.vip != 0)
            s->service_index.add_vip(svc.vip);
    s->service_index.build();
    s->timeouts = timeouts(c);
    return s;
}

} // namespace lb::control
