#include "control/config/validator.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "control/config/key_file.hpp"
#include "control/config/value_parsers.hpp"

namespace lb::control::config {

namespace {

bool is_prime(std::uint32_t n) {
    if (n < 2)
        return false;
    for (std::uint32_t d = 2; d * d <= n; ++d)
        if (n % d == 0)
            return false;
    return true;
}

std::string describe(const PortRange& p) {
    return p.first == p.last ? fmt::format("{}", p.first) : fmt::format("{}-{}", p.first, p.last);
}

void validate_interfaces(const Config& c, Diagnostics& out) {
    if (c.interfaces.empty())
        out.push_back({{1, 1}, "at least one interface is needed"});
    std::map<std::string, const Interface*> names;
    std::map<std::string, const Interface*> devices;
    for (const auto& i : c.interfaces) {
        if (!i.name.empty() && !names.emplace(i.name, &i).second)
            out.push_back({i.location, fmt::format("interface name '{}' is used twice (first at "
                                                   "line {})",
                                                   i.name, names[i.name]->location.line)});
        if (!i.device.empty() && !devices.emplace(i.device, &i).second)
            out.push_back(
                {i.location, fmt::format("device '{}' is used by two interfaces", i.device)});
        if (i.prefix_length == 32 || i.prefix_length == 0)
            out.push_back({i.address_location,
                           fmt::format("address {}/{}: the prefix must leave room for a subnet "
                                       "(1..31)",
                                       format_ipv4(i.address), i.prefix_length)});
        if (i.kernel && (i.kernel_name.empty() || i.kernel_name.size() > 15 ||
                         i.kernel_name.find_first_of("/ :") != std::string::npos))
            out.push_back({i.kernel_name_location.line ? i.kernel_name_location : i.location,
                           fmt::format("kernel_name '{}': a Linux interface name of 1 to 15 "
                                       "characters without '/', ':' or spaces (set kernel_name)",
                                       i.kernel_name)});
        if (i.gateway && !i.holds(*i.gateway))
            out.push_back(
                {i.gateway_location,
                 fmt::format("gateway {} is not inside {}'s subnet {}/{}", format_ipv4(*i.gateway),
                             i.name, format_ipv4(i.address), i.prefix_length)});
    }
}

void validate_real_servers(const Config& c, const Service& s, Diagnostics& out) {
    std::set<std::pair<std::uint32_t, std::uint16_t>> seen;
    for (const auto& rs : s.real_servers) {
        const auto addr = format_ipv4(rs.address);
        if (!seen.emplace(rs.address, rs.port.value_or(0)).second)
            out.push_back({rs.location, fmt::format("real server {} appears twice in service '{}'",
                                                    addr, s.name)});
        if (rs.port && s.forwarding == Forwarding::dr &&
            (s.port_group || *rs.port != s.ports.front().first))
            out.push_back({rs.port_location,
                           fmt::format("real server {}: DR forwarding cannot translate ports "
                                       "(drop 'port' or use forwarding: nat)",
                                       addr)});
        else if (rs.port && s.forwarding == Forwarding::tunnel &&
                 (s.port_group || *rs.port != s.ports.front().first))
            out.push_back({rs.port_location,
                           fmt::format("real server {}: tunnel forwarding cannot translate ports "
                                       "(the real server gets the client's packet unchanged "
                                       "inside the tunnel: drop 'port' or use forwarding: nat)",
                                       addr)});
        else if (rs.port && s.port_group)
            out.push_back({rs.port_location,
                           fmt::format("real server {}: 'port' needs a single-port service; a "
                                       "port-range group keeps each packet's own port",
                                       addr)});
        if (rs.address == s.vip)
            out.push_back(
                {rs.location, fmt::format("real server {} is the service's own VIP", addr)});
        for (const auto& i : c.interfaces)
            if (rs.address == i.address)
                out.push_back(
                    {rs.location, fmt::format("real server {} is this node's own address on "
                                              "interface '{}'",
                                              addr, i.name)});
        if (rs.interface && !c.find_interface(*rs.interface)) {
            out.push_back(
                {rs.interface_location, fmt::format("real server {}: interface '{}' is not defined",
                                                    addr, *rs.interface)});
            continue;
        }
        const Interface* egress = c.egress_for(rs);
        if (!egress) {
            out.push_back({rs.location,
                           fmt::format("real server {} is unreachable: no interface's subnet holds "
                                       "it and no interface has a gateway",
                                       addr)});
        } else if (s.forwarding == Forwarding::dr && !egress->holds(rs.address)) {
            out.push_back(
                {rs.location, fmt::format("real server {}: DR needs the real server on a directly "
                                          "connected subnet (interface '{}' is {}/{}); "
                                          "forwarding: tunnel reaches routed ones",
                                          addr, egress->name, format_ipv4(egress->address),
                                          egress->prefix_length)});
        }
    }
}

struct ClaimedRange {
    PortRange range;
    const Service* service;
};

void validate_services(const Config& c, Diagnostics& out) {
    std::map<std::string, const Service*> names;
    // (vip, protocol) → ranges claimed so far, to find overlaps within and across services.
    std::map<std::pair<std::uint32_t, Protocol>, std::vector<ClaimedRange>> claims;
    for (const auto& s : c.services) {
        if (!s.name.empty() && !names.emplace(s.name, &s).second)
            out.push_back(
                {s.name_location, fmt::format("service name '{}' is used twice (first at line {})",
                                              s.name, names[s.name]->location.line)});
        for (const auto& i : c.interfaces)
            if (s.vip == i.address)
                out.push_back({s.vip_location,
                               fmt::format("vip {} is the node address of interface '{}'; a VIP "
                                           "must be an address of its own",
                                           format_ipv4(s.vip), i.name)});
        auto& claimed = claims[{s.vip, s.protocol}];
        for (const auto& p : s.ports) {
            for (const auto& other : claimed) {
                if (p.first > other.range.last || other.range.first > p.last)
                    continue;
                if (other.service == &s)
                    out.push_back(
                        {p.location, fmt::format("ports {} and {} of service '{}' "
                                                 "overlap",
                                                 describe(p), describe(other.range), s.name)});
                else
                    out.push_back(
                        {p.location,
                         fmt::format("{} {}:{} is already claimed by service '{}' "
                                     "(line {})",
                                     to_string(s.protocol), format_ipv4(s.vip), describe(p),
                                     other.service->name, other.range.location.line)});
            }
            claimed.push_back({p, &s});
        }
        if (s.scheduler == Scheduler::mh) {
            if (!is_prime(s.maglev_table_size))
                out.push_back({s.maglev_location.line ? s.maglev_location : s.location,
                               fmt::format("maglev_table_size {} must be a prime number (e.g. "
                                           "65537)",
                                           s.maglev_table_size)});
            else if (s.maglev_table_size < 100 * s.real_servers.size())
                out.push_back({s.maglev_location.line ? s.maglev_location : s.location,
                               fmt::format("maglev_table_size {} is too small for {} real "
                                           "servers (at least 100 slots per server)",
                                           s.maglev_table_size, s.real_servers.size())});
        }
        if (s.ftp.value_or(false)) {
            if (s.forwarding != Forwarding::nat)
                out.push_back({s.ftp_location, "ftp: the FTP helper is for NAT; in DR a port-range "
                                               "group with persistence is all FTP needs"});
            else if (s.protocol != Protocol::tcp)
                out.push_back({s.ftp_location, "ftp: the FTP helper needs protocol tcp"});
            else if (Config::ftp_control_port(s) == 0)
                out.push_back({s.ftp_location, "ftp: the service needs port 21, or a single "
                                               "port, for the FTP control connection"});
        }
        validate_real_servers(c, s, out);
        if (s.sorry_server) {
            Service as_list = s;
            as_list.real_servers = {*s.sorry_server};
            validate_real_servers(c, as_list, out);
        }
    }
}

void validate_vrrp(const Config& c, Diagnostics& out) {
    std::map<std::string, const VrrpInstance*> names;
    std::map<std::pair<std::string, int>, const VrrpInstance*> ids;
    std::map<std::uint32_t, const VrrpInstance*> owners;
    for (const auto& v : c.vrrp.instances) {
        if (!v.name.empty() && !names.emplace(v.name, &v).second)
            out.push_back(
                {v.location, fmt::format("VRRP instance name '{}' is used twice", v.name)});
        const Interface* iface = c.find_interface(v.interface);
        if (!v.interface.empty() && !iface)
            out.push_back(
                {v.interface_location, fmt::format("interface '{}' is not defined", v.interface)});
        if (!ids.emplace(std::pair{v.interface, int{v.virtual_router_id}}, &v).second)
            out.push_back({v.vrid_location,
                           fmt::format("virtual_router_id {} is used twice on interface '{}'",
                                       v.virtual_router_id, v.interface)});
        for (const auto a : v.virtual_addresses) {
            if (!owners.emplace(a, &v).second)
                out.push_back({v.location, fmt::format("virtual address {} belongs to two VRRP "
                                                       "instances",
                                                       format_ipv4(a))});
            if (iface && a == iface->address)
                out.push_back({v.location, fmt::format("virtual address {} is the node address "
                                                       "of interface '{}'",
                                                       format_ipv4(a), iface->name)});
        }
        for (const auto& t : v.track) {
            using Kind = VrrpInstance::Track::Kind;
            const bool known =
                t.kind == Kind::service
                    ? std::any_of(c.services.begin(), c.services.end(),
                                  [&](const auto& s) { return s.name == t.name; })
                : t.kind == Kind::interface ? c.find_interface(t.name) != nullptr
                                            : std::any_of(
                                                  c.vrrp.scripts.begin(), c.vrrp.scripts.end(),
                                                  [&](const auto& s) { return s.name == t.name; });
            const char* what = t.kind == Kind::service     ? "service"
                               : t.kind == Kind::interface ? "interface"
                                                           : "script (vrrp.scripts)";
            if (!known)
                out.push_back(
                    {t.location, fmt::format("tracked {} '{}' is not defined", what, t.name)});
        }
        if (v.unicast_source && iface && *v.unicast_source != iface->address)
            out.push_back(
                {v.location, fmt::format("unicast_source {} is not the address of interface '{}'",
                                         format_ipv4(*v.unicast_source), iface->name)});
    }
}

} // namespace

void validate_vrrp_groups(const Config& c, Diagnostics& out) {
    if (c.vrrp.instances.size() > 64)
        out.push_back({c.vrrp.instances[64].location, "at most 64 VRRP instances are supported"});
    std::set<std::string> scripts;
    for (const auto& s : c.vrrp.scripts)
        if (!s.name.empty() && !scripts.insert(s.name).second)
            out.push_back({s.location, fmt::format("VRRP script name '{}' is used twice", s.name)});
    std::map<std::string, std::string> group_of;
    for (const auto& g : c.vrrp.sync_groups)
        for (const auto& name : g.instances) {
            const bool known = std::any_of(c.vrrp.instances.begin(), c.vrrp.instances.end(),
                                           [&](const auto& v) { return v.name == name; });
            if (!known)
                out.push_back({g.location, fmt::format("sync group '{}': VRRP instance '{}' is not "
                                                       "defined",
                                                       g.name, name)});
            else if (auto [it, fresh] = group_of.emplace(name, g.name); !fresh)
                out.push_back({g.location, fmt::format("VRRP instance '{}' is in two sync groups "
                                                       "('{}' and '{}')",
                                                       name, it->second, g.name)});
        }
}

void validate_replication(const Config& c, Diagnostics& out) {
    if (!c.replication)
        return;
    const Replication& rep = *c.replication;
    const Interface* iface = c.find_interface(rep.interface);
    if (!rep.interface.empty() && !iface)
        out.push_back(
            {rep.interface_location, fmt::format("interface '{}' is not defined", rep.interface)});
    if (iface && !iface->kernel)
        out.push_back({rep.interface_location,
                       fmt::format("interface '{}' has no kernel exception path (kernel: false): "
                                   "replication's datagrams go through the node's kernel there",
                                   rep.interface)});
    for (std::size_t i = 0; i < rep.peers.size(); ++i) {
        const std::uint32_t peer = rep.peers[i];
        const SourceLocation& at = rep.peer_locations[i];
        const auto first = std::find(rep.peers.begin(), rep.peers.end(), peer);
        if (first != rep.peers.begin() + static_cast<std::ptrdiff_t>(i)) {
            const SourceLocation& earlier = rep.peer_locations[first - rep.peers.begin()];
            out.push_back({at, fmt::format("peer {} is listed twice (first at line {})",
                                           format_ipv4(peer), earlier.line)});
            continue;
        }
        if (!iface)
            continue;
        if (peer == iface->address)
            out.push_back({at, fmt::format("peer {} is this node's own address on '{}'; give the "
                                           "other nodes'",
                                           format_ipv4(peer), iface->name)});
        else if ((peer & iface->netmask()) != (iface->address & iface->netmask()))
            out.push_back({at, fmt::format("peer {} is not on interface '{}' ({}/{}): replication "
                                           "runs between neighbours on one segment",
                                           format_ipv4(peer), iface->name,
                                           format_ipv4(iface->address), iface->prefix_length)});
    }
    for (const auto& problem : load_replication_keys(rep).problems)
        out.push_back({problem.previous ? rep.previous_key_file_location : rep.key_file_location,
                       problem.message()});
}

// bgp.drain_state_file: a file of its own. lb replaces it whole (rename) and removes it at
// `lbctl drain-node --undo`: shared with another file lb or BIRD keeps, one would destroy the
// other.
void validate_drain_state_file(const Config& c, Diagnostics& out) {
    const Bgp& bgp = *c.bgp;
    const std::filesystem::path path =
        std::filesystem::path(bgp.drain_state_file).lexically_normal();
    if (!path.has_filename()) {
        out.push_back({bgp.drain_state_file_location,
                       fmt::format("drain_state_file: '{}' names a folder; give a file in it, e.g. "
                                   "/var/lib/lb/node-drained",
                                   bgp.drain_state_file)});
        return;
    }
    std::vector<std::pair<const char*, std::string>> others = {
        {"bgp.config", bgp.config}, {"bgp.socket", bgp.socket}, {"admin.socket", c.admin.socket}};
    if (!c.stats.file.empty())
        others.emplace_back("stats.file", c.stats.file);
    if (c.replication)
        others.emplace_back("replication.epoch_file", c.replication->epoch_file);
    for (const auto& [key, other] : others)
        if (std::filesystem::path(other).lexically_normal() == path)
            out.push_back({bgp.drain_state_file_location,
                           fmt::format("drain_state_file: '{}' is also {}; give each its own "
                                       "file, e.g. /var/lib/lb/node-drained",
                                       bgp.drain_state_file, key)});
}

// bgp: neighbours directly connected through an interface with the kernel exception path
// (BIRD's sessions run through the node's kernel), each once; services named in `announce`.
void validate_bgp(const Config& c, Diagnostics& out) {
    if (!c.bgp)
        return;
    const Bgp& bgp = *c.bgp;
    if (!bgp.router_id && c.interfaces.empty())
        out.push_back({bgp.location, "bgp needs 'router_id' when no interface is configured"});
    std::set<std::uint32_t> seen;
    for (const auto& nb : bgp.neighbors) {
        if (nb.address == 0)
            continue;
        if (!seen.insert(nb.address).second) {
            out.push_back({nb.address_location,
                           fmt::format("neighbor {} is listed twice", format_ipv4(nb.address))});
            continue;
        }
        const auto on = std::find_if(c.interfaces.begin(), c.interfaces.end(),
                                     [&](const Interface& i) { return i.holds(nb.address); });
        if (on == c.interfaces.end()) {
            out.push_back({nb.address_location,
                           fmt::format("neighbor {} is not on any interface's subnet: BGP runs "
                                       "to a directly connected router",
                                       format_ipv4(nb.address))});
            continue;
        }
        if (nb.address == on->address)
            out.push_back(
                {nb.address_location, fmt::format("neighbor {} is this node's own address on '{}'",
                                                  format_ipv4(nb.address), on->name)});
        if (!on->kernel)
            out.push_back({nb.address_location,
                           fmt::format("neighbor {} is on interface '{}', which has no kernel "
                                       "exception path (kernel: false): BIRD's BGP and BFD "
                                       "sessions run through the node's kernel there",
                                       format_ipv4(nb.address), on->name)});
    }
    for (std::size_t i = 0; i < bgp.announce.size(); ++i) {
        const std::string& name = bgp.announce[i];
        const bool known = std::any_of(c.services.begin(), c.services.end(),
                                       [&](const Service& s) { return s.name == name; });
        if (!known)
            out.push_back(
                {bgp.announce_locations[i], fmt::format("announce: no service named '{}'", name)});
    }
    validate_drain_state_file(c, out);
}

void validate_config(const Config& c, Diagnostics& out) {
    validate_interfaces(c, out);
    validate_services(c, out);
    validate_vrrp(c, out);
    validate_vrrp_groups(c, out);
    validate_replication(c, out);
    validate_bgp(c, out);
}

} // namespace lb::control::config
