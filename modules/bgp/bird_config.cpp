#include "modules/bgp/bird_config.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "control/config/value_parsers.hpp"

namespace lb::control::bgp {

using config::format_ipv4;

namespace {

// BIRD takes whole seconds for BGP timers; hold time 3 s at least (RFC 4271).
long seconds(config::Milliseconds d) {
    return std::max<long>(1, static_cast<long>((d.count() + 999) / 1000));
}

const config::Interface* interface_of(const config::Config& c, const config::IpAddress& neighbor) {
    for (const auto& i : c.interfaces)
        if (i.holds(neighbor))
            return &i;
    return nullptr;
}

std::string bfd_section(const config::Config& c) {
    const config::Bgp& bgp = *c.bgp;
    std::vector<std::string> interfaces;
    for (const auto& nb : bgp.neighbors) {
        const config::Interface* i = interface_of(c, nb.address);
        if (nb.bfd && i &&
            std::find(interfaces.begin(), interfaces.end(), i->kernel_name) == interfaces.end())
            interfaces.push_back(i->kernel_name);
    }
    if (interfaces.empty())
        return {};
    std::string out = "protocol bfd lb_bfd {\n";
    for (const auto& name : interfaces)
        out += fmt::format("    interface \"{}\" {{\n"
                           "        min rx interval {} ms;\n"
                           "        min tx interval {} ms;\n"
                           "        idle tx interval 1000 ms;\n"
                           "        multiplier {};\n"
                           "    }};\n",
                           name, bgp.bfd_interval.count(), bgp.bfd_interval.count(),
                           bgp.bfd_multiplier);
    return out + "}\n\n";
}

std::string bgp_section(const config::Config& c, std::size_t index) {
    const config::Bgp& bgp = *c.bgp;
    const config::BgpNeighbor& nb = bgp.neighbors[index];
    const config::Interface* i = interface_of(c, nb.address);
    const long hold = std::max<long>(3, seconds(bgp.hold_time));
    // `direct`: the router is on the segment (checked), also for iBGP. Short retry timers: a
    // node that comes back, or a router restarted, must be in the ECMP group again within
    // seconds, not BIRD's default two minutes. No graceful restart: when lb dies, the router
    // must drop its routes at once rather than keep them stale while a restart is awaited.
    return fmt::format("protocol bgp {} {{\n"
                       "    local {} as {};\n"
                       "    neighbor {} as {};\n"
                       "    direct;\n"
                       "    hold time {};\n"
                       "    keepalive time {};\n"
                       "    connect delay time 1;\n"
                       "    connect retry time 2;\n"
                       "    error wait time 1, 10;\n"
                       "    graceful restart off;\n"
                       "    bfd {};\n"
                       "    ipv4 {{\n"
                       "        import none;\n"
                       "        export where proto = \"{}\";\n"
                       "        next hop self;\n"
                       "    }};\n"
                       "}}\n\n",
                       bgp_protocol_name(index), i ? format_ipv4(i->address) : "0.0.0.0",
                       bgp.local_as, format_ip(nb.address), nb.as, hold,
                       std::max<long>(1, hold / 3), nb.bfd ? "on" : "off", vips_protocol);
}

} // namespace

std::string bgp_protocol_name(std::size_t index) {
    return fmt::format("lb_peer{}", index + 1);
}

std::uint32_t router_id(const config::Config& c) {
    if (c.bgp && c.bgp->router_id)
        return *c.bgp->router_id;
    for (const auto& i : c.interfaces)
        if (i.has_ipv4())
            return i.address;
    return 0;
}

std::string bird_config_text(const config::Config& c, const std::vector<std::uint32_t>& announced) {
    std::string out = fmt::format("# Written by lb (node {}) from its bgp section: edits are "
                                  "overwritten.\n# Announced VIPs: the routes of protocol {}.\n\n"
                                  "router id {};\n"
                                  "timeformat protocol iso short;\n\n"
                                  "protocol device {{\n    scan time 10;\n}}\n\n",
                                  c.node_name, vips_protocol, format_ipv4(router_id(c)));
    out += bfd_section(c);
    for (std::size_t i = 0; i < c.bgp->neighbors.size(); ++i)
        out += bgp_section(c, i);
    out += fmt::format("protocol static {} {{\n    ipv4;\n", vips_protocol);
    for (const std::uint32_t vip : announced)
        out += fmt::format("    route {}/32 blackhole;\n", format_ipv4(vip));
    return out + "}\n";
}

} // namespace lb::control::bgp
