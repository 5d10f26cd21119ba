#include "control/config/model.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "control/config/diagnostic.hpp"

namespace lb::control::config {

const char* to_string(Protocol p) {
    return p == Protocol::tcp ? "tcp" : "udp";
}

const char* to_string(Scheduler s) {
    switch (s) {
    case Scheduler::rr:
        return "rr";
    case Scheduler::wrr:
        return "wrr";
    case Scheduler::lc:
        return "lc";
    case Scheduler::wlc:
        return "wlc";
    case Scheduler::sh:
        return "sh";
    case Scheduler::mh:
        return "mh";
    }
    return "?";
}

const char* to_string(Forwarding f) {
    switch (f) {
    case Forwarding::nat:
        return "nat";
    case Forwarding::dr:
        return "dr";
    case Forwarding::tunnel:
        return "tunnel";
    }
    return "?";
}

const char* to_string(HealthCheck::Type t) {
    switch (t) {
    case HealthCheck::Type::tcp:
        return "tcp";
    case HealthCheck::Type::http:
        return "http";
    case HealthCheck::Type::send_expect:
        return "send_expect";
    case HealthCheck::Type::udp:
        return "udp";
    case HealthCheck::Type::exec:
        return "exec";
    }
    return "?";
}

const Interface* Config::find_interface(const std::string& name) const {
    for (const auto& i : interfaces)
        if (i.name == name)
            return &i;
    return nullptr;
}

std::uint16_t Config::ftp_control_port(const Service& s) {
    const bool has_21 = std::any_of(s.ports.begin(), s.ports.end(), [](const PortRange& r) {
        return r.first <= 21 && 21 <= r.last;
    });
    const bool on =
        s.ftp.value_or(s.forwarding == Forwarding::nat && has_21 && s.protocol == Protocol::tcp);
    if (!on || s.forwarding != Forwarding::nat || s.protocol != Protocol::tcp)
        return 0;
    if (has_21)
        return 21;
    if (!s.port_group && s.ports.size() == 1)
        return s.ports.front().first;
    return 0;
}

bool Interface::holds(const IpAddress& a) const {
    if (a.is_ipv4())
        return holds(a.ipv4());
    return std::any_of(ipv6_addresses.begin(), ipv6_addresses.end(),
                       [&](const IpPrefix& p) { return p.contains(a); });
}

bool Interface::is_own(const IpAddress& a) const {
    if (a.is_ipv4())
        return has_ipv4() && a.ipv4() == address;
    return std::any_of(ipv6_addresses.begin(), ipv6_addresses.end(),
                       [&](const IpPrefix& p) { return p.address == a; });
}

std::string Interface::subnets(Family f) const {
    if (f == Family::ipv4)
        return has_ipv4()
                   ? fmt::format("{}/{}", format_ip(IpAddress::from_ipv4(address)), prefix_length)
                   : "no IPv4 address";
    std::string out;
    for (const auto& p : ipv6_addresses)
        out += fmt::format("{}{}/{}", out.empty() ? "" : ", ", format_ip(p.address), p.length);
    return out.empty() ? "no IPv6 address" : out;
}

const Interface* Config::egress_for(const RealServer& rs) const {
    if (rs.interface)
        return find_interface(*rs.interface);
    for (const auto& i : interfaces)
        if (i.holds(rs.address))
            return &i;
    // Routed: through the first interface with a next hop of the server's family.
    for (const auto& i : interfaces)
        if (rs.address.is_ipv4() ? i.gateway.has_value() : i.ipv6_gateway.has_value())
            return &i;
    return nullptr;
}

std::string format_diagnostic(const std::string& file, const Diagnostic& d) {
    // Line 0: about the file as a whole (it cannot be read, it is too large); such a message
    // names the file itself, and "FILE:0:0" would point at nothing.
    if (d.location.line == 0)
        return d.message;
    return fmt::format("{}:{}:{}: {}", file, d.location.line, d.location.column, d.message);
}

std::vector<std::string> format_diagnostics(const std::string& file, const Diagnostics& all,
                                            std::size_t limit) {
    std::vector<std::string> lines;
    for (std::size_t i = 0; i < all.size() && i < limit; ++i)
        lines.push_back(format_diagnostic(file, all[i]));
    if (all.size() > limit)
        lines.push_back(fmt::format("... and {} more error(s)", all.size() - limit));
    return lines;
}

} // namespace lb::control::config
