#include "control/config/validator.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "control/config/key_file.hpp"
#include "control/config/value_parsers.hpp"
#include "modules/bgp/config_section.hpp"
#include "modules/replication/config_section.hpp"
#include "modules/vrrp/config_section.hpp"

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

// The IPv6 side of an interface: prefixes that leave a subnet, each address once on the node, a
// next hop on the link, and the MTU every IPv6 link must have.
void validate_ipv6_addresses(const Config& c, const Interface& i, Diagnostics& out) {
    for (std::size_t k = 0; k < i.ipv6_addresses.size(); ++k) {
        const IpPrefix& p = i.ipv6_addresses[k];
        const SourceLocation& at = i.ipv6_address_locations[k];
        if (p.length == 0 || p.length == 128)
            out.push_back({at, fmt::format("address {}/{}: the prefix must leave room for a subnet "
                                           "(1..127)",
                                           format_ip(p.address), p.length)});
        for (const auto& other : c.interfaces)
            for (std::size_t j = 0; j < other.ipv6_addresses.size(); ++j) {
                if (&other == &i && j == k)
                    break; // only the entries before this one
                if (other.ipv6_addresses[j].address == p.address) {
                    out.push_back(
                        {at, fmt::format("address {} is already interface '{}''s (line {})",
                                         format_ip(p.address), other.name,
                                         other.ipv6_address_locations[j].line)});
                    break;
                }
            }
    }
    if (i.ipv6_gateway) {
        if (i.ipv6_addresses.empty())
            out.push_back({i.ipv6_gateway_location,
                           fmt::format("gateway {}: interface '{}' has no IPv6 address to reach "
                                       "it from",
                                       format_ip(*i.ipv6_gateway), i.name)});
        else if (!is_link_local(*i.ipv6_gateway) && !i.holds(*i.ipv6_gateway))
            out.push_back(
                {i.ipv6_gateway_location,
                 fmt::format("gateway {} is not inside {}'s subnets ({}) and is not "
                             "link-local (fe80::/10)",
                             format_ip(*i.ipv6_gateway), i.name, i.subnets(Family::ipv6))});
    }
    if (!i.ipv6_addresses.empty() && i.mtu < min_ipv6_mtu)
        out.push_back({i.mtu_location.line ? i.mtu_location : i.location,
                       fmt::format("mtu {}: an interface with IPv6 addresses needs at least {} "
                                   "(RFC 8200)",
                                   i.mtu, min_ipv6_mtu)});
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
        if (i.has_ipv4() && (i.prefix_length == 32 || i.prefix_length == 0))
            out.push_back({i.address_location,
                           fmt::format("address {}/{}: the prefix must leave room for a subnet "
                                       "(1..31)",
                                       format_ipv4(i.address), i.prefix_length)});
        validate_ipv6_addresses(c, i, out);
        if (i.kernel && (i.kernel_name.empty() || i.kernel_name.size() > 15 ||
                         i.kernel_name.find_first_of("/ :") != std::string::npos))
            out.push_back({i.kernel_name_location.line ? i.kernel_name_location : i.location,
                           fmt::format("kernel_name '{}': a Linux interface name of 1 to 15 "
                                       "characters without '/', ':' or spaces (set kernel_name)",
                                       i.kernel_name)});
        if (i.gateway && !i.has_ipv4())
            out.push_back({i.gateway_location,
                           fmt::format("gateway {}: interface '{}' has no IPv4 address to reach "
                                       "it from",
                                       format_ipv4(*i.gateway), i.name)});
        else if (i.gateway && !i.holds(*i.gateway))
            out.push_back(
                {i.gateway_location,
                 fmt::format("gateway {} is not inside {}'s subnet {}/{}", format_ipv4(*i.gateway),
                             i.name, format_ipv4(i.address), i.prefix_length)});
    }
}

void validate_real_servers(const Config& c, const Service& s, Diagnostics& out) {
    std::set<std::pair<IpAddress, std::uint16_t>> seen;
    for (const auto& rs : s.real_servers) {
        const auto addr = format_ip(rs.address);
        // NAT rewrites one address into the other and DR only the MAC: both stay in the
        // client's family. A tunnel's outer header may be of either.
        if (rs.address.family != s.vip.family && s.forwarding != Forwarding::tunnel) {
            out.push_back({rs.location,
                           fmt::format("real server {} is {} and the VIP {} is {}: forwarding: {} "
                                       "stays in one family (forwarding: tunnel carries IPv4 in "
                                       "IPv6 and IPv6 in IPv4)",
                                       addr, to_string(rs.address.family), format_ip(s.vip),
                                       to_string(s.vip.family), to_string(s.forwarding))});
            continue;
        }
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
            if (i.is_own(rs.address))
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
                                       "it and no interface has {} gateway",
                                       addr, rs.address.is_ipv4() ? "a" : "an IPv6")});
        } else if (!egress->has_family(rs.address.family)) {
            out.push_back(
                {rs.location, fmt::format("real server {}: interface '{}' has no {} "
                                          "address to reach it from",
                                          addr, egress->name, to_string(rs.address.family))});
        } else if (s.forwarding == Forwarding::dr && !egress->holds(rs.address)) {
            out.push_back(
                {rs.location, fmt::format("real server {}: DR needs the real server on a directly "
                                          "connected subnet (interface '{}' is {}); "
                                          "forwarding: tunnel reaches routed ones",
                                          addr, egress->name, egress->subnets(rs.address.family))});
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
    std::map<std::pair<IpAddress, Protocol>, std::vector<ClaimedRange>> claims;
    for (const auto& s : c.services) {
        if (!s.name.empty() && !names.emplace(s.name, &s).second)
            out.push_back(
                {s.name_location, fmt::format("service name '{}' is used twice (first at line {})",
                                              s.name, names[s.name]->location.line)});
        for (const auto& i : c.interfaces)
            if (i.is_own(s.vip))
                out.push_back({s.vip_location,
                               fmt::format("vip {} is the node address of interface '{}'; a VIP "
                                           "must be an address of its own",
                                           format_ip(s.vip), i.name)});
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
                                     to_string(s.protocol),
                                     s.vip.is_ipv4() ? format_ip(s.vip)
                                                     : "[" + format_ip(s.vip) + "]",
                                     describe(p), other.service->name, other.range.location.line)});
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

// IPv6 lands in steps (docs/ipv6-plan.md, "Landing order"): the configuration takes every
// IPv6 value and checks its rules already, and what the dataplane cannot do yet is refused here,
// where it is written, so that a half-landed series never forwards wrongly. Each step removes
// its lines.
void refuse_what_ipv6_lacks(const Config& c, Diagnostics& out) {
    const auto refuse = [&](Location at, const std::string& what) {
        out.push_back({at, fmt::format("{}: IPv6 is not supported yet: lb forwards IPv4 only "
                                       "(docs/ipv6-plan.md)",
                                       what)});
    };
    // Interfaces' IPv6 addresses and gateways are the node's (step 4's first half): the kernel
    // exception path holds them, and the workers pass it what is addressed to them. Without it
    // nothing would answer Neighbour Discovery for them (the workers do ARP themselves).
    for (const auto& i : c.interfaces)
        if (!i.kernel && !i.ipv6_addresses.empty())
            refuse(i.ipv6_address_locations.front(),
                   fmt::format("address {} on an interface with kernel: false (the node's IPv6 "
                               "addresses live on the kernel exception path for now)",
                               format_ip(i.ipv6_addresses.front().address)));
    for (const auto& s : c.services) {
        if (!s.vip.is_ipv4()) {
            refuse(s.vip_location, fmt::format("vip {}", format_ip(s.vip)));
            continue;
        }
        // (An IPv6 server of a NAT or DR service already has its family error.)
        if (s.forwarding != Forwarding::tunnel)
            continue;
        for (const auto& rs : s.real_servers)
            if (!rs.address.is_ipv4())
                refuse(rs.location, fmt::format("real server {}", format_ip(rs.address)));
        if (s.sorry_server && !s.sorry_server->address.is_ipv4())
            refuse(s.sorry_server->location,
                   fmt::format("sorry server {}", format_ip(s.sorry_server->address)));
    }
    for (const auto& v : c.vrrp.instances)
        if (!v.virtual_addresses.empty() && !v.virtual_addresses.front().is_ipv4())
            refuse(v.location, fmt::format("VRRP instance '{}'", v.name));
    if (c.replication && !c.replication->peers.empty() && !c.replication->peers.front().is_ipv4())
        refuse(c.replication->peer_locations.front(),
               fmt::format("replication peer {}", format_ip(c.replication->peers.front())));
    if (c.bgp)
        for (const auto& nb : c.bgp->neighbors)
            if (!nb.address.is_ipv4())
                refuse(nb.address_location, fmt::format("BGP neighbor {}", format_ip(nb.address)));
}

} // namespace

void validate_config(const Config& c, Diagnostics& out) {
    validate_interfaces(c, out);
    validate_services(c, out);
    refuse_what_ipv6_lacks(c, out);
    // Each module's own rules (modules/*/config_section.cpp).
    validate_vrrp_section(c, out);
    validate_replication_section(c, out);
    validate_bgp_section(c, out);
}

} // namespace lb::control::config
