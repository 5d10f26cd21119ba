#include "control/snapshot_builder.hpp"

#include <netinet/in.h>

#include <algorithm>

#include <numeric>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_byteorder.h>

#include "control/vrrp_frames.hpp"
#include "dataplane/maglev_table.hpp"

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

std::uint32_t ms(config::Milliseconds d) {
    return static_cast<std::uint32_t>(d.count());
}

} // namespace

std::string sorry_key(const std::string& service) {
    return service + "\x1fsorry";
}

std::unique_ptr<Snapshot> build_snapshot(const config::Config& c,
                                         const std::vector<PortBinding>& ports,
                                         NeighbourTable& neighbours, IdentityRegistry& registry,
                                         const Snapshot* previous, std::uint64_t generation,
                                         const DownSet* down) {
    if (c.interfaces.size() > max_interfaces)
        throw std::runtime_error(
            fmt::format("at most {} interfaces are supported", max_interfaces));
    if (ports.size() != c.interfaces.size())
        throw std::logic_error("one port binding per interface is needed");
    auto s = std::make_unique<Snapshot>();
    s->generation = generation;
    for (std::size_t i = 0; i < c.interfaces.size(); ++i) {
        const auto& ci = c.interfaces[i];
        InterfaceEntry e;
        e.port_id = ports[i].port_id;
        e.kernel_port = ports[i].kernel_port;
        e.mac = ports[i].mac;
        e.address = rte_cpu_to_be_32(ci.address);
        e.netmask = rte_cpu_to_be_32(ci.netmask());
        s->interfaces.push_back(e);
        if (ci.gateway)
            neighbours.intern(rte_cpu_to_be_32(*ci.gateway), static_cast<std::uint8_t>(i));
    }
    // Everything the previous snapshot knew starts out removed; what the configuration still
    // has is overwritten below.
    if (previous) {
        s->services = previous->services;
        for (auto& svc : s->services) {
            svc.members.clear();
            svc.maglev.clear();
        }
        s->real_servers = previous->real_servers;
        for (auto& rs : s->real_servers) {
            rs.removed = true;
            rs.weight = 0;
        }
    }
    for (const auto& cs : c.services) {
        const std::uint16_t id = registry.service(cs.name);
        if (s->services.size() <= id)
            s->services.resize(id + 1u);
        ServiceEntry svc;
        svc.vip = rte_cpu_to_be_32(cs.vip);
        svc.protocol = cs.protocol == config::Protocol::tcp ? IPPROTO_TCP : IPPROTO_UDP;
        svc.forwarding =
            cs.forwarding == config::Forwarding::nat ? ForwardingKind::nat : ForwardingKind::dr;
        svc.scheduler = scheduler_kind(cs.scheduler);
        svc.port_group = cs.port_group;
        svc.reset_unknown = cs.on_failure == config::Service::OnFailure::reset;
        if (const std::uint16_t ftp = config::Config::ftp_control_port(cs)) {
            svc.ftp_control_port = rte_cpu_to_be_16(ftp);
            s->has_ftp = true;
        }
        if (cs.persistence) {
            svc.persistent = true;
            svc.persistence_timeout_ms = ms(cs.persistence->timeout);
            svc.persistence_netmask = rte_cpu_to_be_32(cs.persistence->netmask);
        }
        std::vector<MaglevBackend> backends;
        std::uint32_t weight_gcd = 0;
        // One real-server entry, numbered under `key` (the service's name, or its sorry key).
        auto enter = [&](const config::RealServer& crs, const std::string& key, bool healthy) {
            const config::Interface* egress = c.egress_for(crs);
            if (!egress)
                throw std::logic_error("validated configuration has an unreachable server");
            const std::uint16_t rs_id =
                registry.real_server(key, crs.address, crs.port.value_or(0));
            if (s->real_servers.size() <= rs_id)
                s->real_servers.resize(rs_id + 1u);
            RealServerEntry rs;
            rs.address = rte_cpu_to_be_32(crs.address);
            rs.port = crs.port ? rte_cpu_to_be_16(*crs.port) : 0;
            rs.weight = healthy ? crs.weight : 0;
            rs.service = id;
            rs.egress = interface_index(c, egress);
            const std::uint32_t next_hop =
                egress->holds(crs.address) ? crs.address : egress->gateway.value_or(crs.address);
            rs.neighbour = neighbours.intern(rte_cpu_to_be_32(next_hop), rs.egress);
            s->real_servers[rs_id] = rs;
            return rs_id;
        };
        unsigned up = 0;
        for (const auto& crs : cs.real_servers) {
            const bool healthy =
                !down || !down->count(ServerKey{cs.name, crs.address, crs.port.value_or(0)});
            const std::uint16_t rs_id = enter(crs, cs.name, healthy);
            const std::uint32_t weight = s->real_servers[rs_id].weight;
            up += weight > 0;
            svc.max_weight = std::max(svc.max_weight, weight);
            weight_gcd = std::gcd(weight_gcd, weight);
            svc.members.push_back(rs_id);
            backends.push_back({(std::uint64_t{crs.address} << 16) | crs.port.value_or(0),
                                crs.weight, crs.weight > 0 && healthy});
        }
        // The sorry server always has its entry (and its MAC kept resolved), used or not.
        const std::optional<std::uint16_t> sorry =
            cs.sorry_server ? std::optional(enter(*cs.sorry_server, sorry_key(cs.name), true))
                            : std::nullopt;
        if (up < cs.quorum && sorry) {
            // Below quorum: new connections go to the sorry server alone; the real servers
            // keep their entries for the connections they still have.
            const auto& e = s->real_servers[*sorry];
            svc.members = {*sorry};
            svc.max_weight = std::max<std::uint32_t>(e.weight, 1);
            weight_gcd = svc.max_weight;
            backends = {{(std::uint64_t{cs.sorry_server->address} << 16) |
                             cs.sorry_server->port.value_or(0),
                         svc.max_weight, true}};
        }
        svc.weight_gcd = weight_gcd == 0 ? 1 : weight_gcd;
        if (svc.scheduler == SchedulerKind::mh || svc.scheduler == SchedulerKind::sh) {
            // Slots name members; store the servers' numbers so the worker needs no mapping.
            svc.maglev = build_maglev_table(backends, cs.maglev_table_size);
            for (auto& slot : svc.maglev)
                if (slot != maglev_no_backend)
                    slot = svc.members[slot];
        }
        for (const auto& range : cs.ports)
            for (std::uint32_t port = range.first; port <= range.last; ++port)
                s->service_index.add(svc.vip, svc.protocol,
                                     rte_cpu_to_be_16(static_cast<std::uint16_t>(port)), id);
        s->services[id] = std::move(svc);
    }
    // VRRP: which instance owns which address, by the instance's ownership slot (stable across
    // reloads: IdentityRegistry::vrrp_slots).
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
        if (s->vrrp_instances.size() <= slots[i])
            s->vrrp_instances.resize(slots[i] + 1);
        s->vrrp_instances[slots[i]] = e;
        for (const auto a : v.virtual_addresses)
            s->vrrp_addresses.push_back({rte_cpu_to_be_32(a), slots[i]});
        // Unicast advertisements need the peers' MACs: the resolver keeps them fresh.
        for (const auto peer : v.unicast_peers)
            neighbours.intern(rte_cpu_to_be_32(peer), e.interface);
    }
    for (auto& svc : s->services)
        svc.vrrp_instance = s->vrrp_instance_of(svc.vip);
    // ARP and ICMP keep answering for the VIPs of removed services while their connections
    // drain; only configured ports take new connections.
    for (const auto& svc : s->services)
        if (svc.vip != 0)
            s->service_index.add_vip(svc.vip);
    s->service_index.build();
    s->timeouts.tcp_established = ms(c.timeouts.tcp_established);
    s->timeouts.tcp_syn = ms(c.timeouts.tcp_syn);
    s->timeouts.tcp_fin = ms(c.timeouts.tcp_fin);
    s->timeouts.tcp_close = ms(c.timeouts.tcp_close);
    s->timeouts.udp = ms(c.timeouts.udp);
    return s;
}

} // namespace lb::control
