#include "modules/bgp/config_section.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "control/config/key_file.hpp"
#include "control/config/value_parsers.hpp"

namespace lb::control::config {

namespace {

// 0 and 4294967295 are reserved (RFC 7607, RFC 7300): no router accepts them.
constexpr std::uint64_t max_as = 4'294'967'294;

std::optional<std::uint32_t> as_number(Reader& r, const YAML::Node& n, const char* what) {
    auto s = r.scalar(n, what);
    if (!s)
        return std::nullopt;
    std::string e;
    const auto v = parse_unsigned(*s, ~std::uint64_t{0} >> 1, e);
    if (!v || *v == 0 || *v > max_as) {
        r.error(n, fmt::format("{}: '{}' is not an AS number (1 to {})", what, *s, max_as));
        return std::nullopt;
    }
    return static_cast<std::uint32_t>(*v);
}

std::optional<Milliseconds> duration_within(Reader& r, const YAML::Node& n, const char* what,
                                            Milliseconds min, Milliseconds max) {
    auto d = r.parsed(n, what, parse_duration);
    if (d && (*d < min || *d > max)) {
        r.error(n, fmt::format("{}: {} is out of range ({} to {})", what, n.Scalar(),
                               format_duration(min), format_duration(max)));
        return std::nullopt;
    }
    return d;
}

std::optional<std::string> absolute_path(Reader& r, const YAML::Node& n, const char* what,
                                         const char* example) {
    auto s = r.scalar(n, what);
    if (s && (s->empty() || (*s)[0] != '/')) {
        r.error(n, fmt::format("{}: needs an absolute path, e.g. {}", what, example));
        return std::nullopt;
    }
    return s;
}

void read_bgp_neighbors(Reader& r, const YAML::Node& n, Bgp& bgp) {
    if (!n.IsSequence() || n.size() == 0) {
        r.error(n, "neighbors must be a non-empty list, e.g. [{address: 198.51.100.1, as: "
                   "65000}]");
        return;
    }
    for (const auto& item : n) {
        if (!r.expect_map(item, "a neighbor"))
            continue;
        r.check_keys(item, "neighbor", {"address", "as", "bfd"});
        BgpNeighbor nb;
        nb.location = location_of(item);
        if (const auto v = item["address"]) {
            nb.address_location = location_of(v);
            if (const auto a = r.ip_address(v, "address"))
                nb.address = *a;
        } else {
            r.error(item, "neighbor needs 'address' (the router's address on a data interface)");
        }
        if (const auto v = item["as"])
            nb.as = as_number(r, v, "as").value_or(0);
        else
            r.error(item, "neighbor needs 'as' (the router's AS number)");
        if (const auto v = item["bfd"])
            nb.bfd = r.boolean(v, "bfd").value_or(false);
        bgp.neighbors.push_back(nb);
    }
}

void read_bgp_announce(Reader& r, const YAML::Node& n, Bgp& bgp) {
    if (n.IsScalar()) {
        if (n.Scalar() != "all")
            r.error(n, fmt::format("announce: '{}' is neither 'all' nor a list of service names",
                                   n.Scalar()));
        return;
    }
    if (!n.IsSequence()) {
        r.error(n, "announce must be 'all' or a list of service names");
        return;
    }
    bgp.announce_all = false;
    for (const auto& item : n)
        if (auto s = r.scalar(item, "announce")) {
            bgp.announce.push_back(*s);
            bgp.announce_locations.push_back(location_of(item));
        }
}

void read_bgp_timers(Reader& r, const YAML::Node& n, Bgp& bgp) {
    if (const auto v = n["drain_timeout"])
        bgp.drain_timeout =
            duration_within(r, v, "drain_timeout", Milliseconds{0}, Milliseconds{3'600'000})
                .value_or(bgp.drain_timeout);
    if (const auto v = n["hold_time"])
        bgp.hold_time =
            duration_within(r, v, "hold_time", Milliseconds{3'000}, Milliseconds{65'535'000})
                .value_or(bgp.hold_time);
    if (const auto v = n["bfd_interval"])
        bgp.bfd_interval =
            duration_within(r, v, "bfd_interval", Milliseconds{10}, Milliseconds{10'000})
                .value_or(bgp.bfd_interval);
    if (const auto v = n["bfd_multiplier"])
        if (auto m = r.unsigned_value(v, "bfd_multiplier", 1, 255))
            bgp.bfd_multiplier = static_cast<unsigned>(*m);
}

} // namespace

// VIP announcement over BGP (README, "Scaling out").
void read_bgp_section(Reader& r, const YAML::Node& n, Config& c) {
    if (!r.expect_map(n, "bgp"))
        return;
    r.check_keys(n, "bgp",
                 {"daemon", "local_as", "router_id", "neighbors", "announce", "socket", "config",
                  "drain_state_file", "drain_timeout", "hold_time", "bfd_interval",
                  "bfd_multiplier"});
    Bgp bgp;
    bgp.location = location_of(n);
    if (const auto v = n["daemon"])
        if (auto s = r.scalar(v, "daemon"); s && *s != "bird")
            r.error(v, fmt::format("daemon: '{}' is not supported (only bird, BIRD 2)", *s));
    if (const auto v = n["local_as"])
        bgp.local_as = as_number(r, v, "local_as").value_or(0);
    else
        r.error(n, "bgp needs 'local_as' (this node's AS number)");
    if (const auto v = n["router_id"]) {
        bgp.router_id_location = location_of(v);
        bgp.router_id = r.parsed(v, "router_id", parse_ipv4);
    }
    if (const auto v = n["neighbors"])
        read_bgp_neighbors(r, v, bgp);
    else
        r.error(n, "bgp needs 'neighbors' (the routers to announce the VIPs to)");
    if (const auto v = n["announce"])
        read_bgp_announce(r, v, bgp);
    if (const auto v = n["socket"])
        bgp.socket = absolute_path(r, v, "socket", "/run/bird/bird.ctl").value_or(bgp.socket);
    if (const auto v = n["config"]) {
        bgp.config = absolute_path(r, v, "config", "/run/lb/bird.conf").value_or(bgp.config);
        // lb hands the path to BIRD as a quoted string (configure "PATH").
        if (bgp.config.find_first_of("\"\\\n\r") != std::string::npos) {
            r.error(v, "config: BIRD cannot be given a path with quotes, backslashes or line "
                       "breaks");
            bgp.config = "/run/lb/bird.conf";
        }
    }
    if (const auto v = n["drain_state_file"]) {
        bgp.drain_state_file_location = location_of(v);
        bgp.drain_state_file = absolute_path(r, v, "drain_state_file", "/var/lib/lb/node-drained")
                                   .value_or(bgp.drain_state_file);
    }
    read_bgp_timers(r, n, bgp);
    c.bgp = std::move(bgp);
}

// -- validation: rules spanning several values, on a configuration that parsed cleanly --

namespace {

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
    // The router ID is a 32-bit number written as an IPv4 address: a node without one needs it.
    if (!bgp.router_id && std::none_of(c.interfaces.begin(), c.interfaces.end(),
                                       [](const Interface& i) { return i.has_ipv4(); }))
        out.push_back({bgp.location, "bgp needs 'router_id' (a 32-bit ID written as an IPv4 "
                                     "address) when no interface has an IPv4 address"});
    std::set<IpAddress> seen;
    for (const auto& nb : bgp.neighbors) {
        if (is_unspecified(nb.address))
            continue;
        if (!seen.insert(nb.address).second) {
            out.push_back({nb.address_location,
                           fmt::format("neighbor {} is listed twice", format_ip(nb.address))});
            continue;
        }
        const auto on = std::find_if(c.interfaces.begin(), c.interfaces.end(),
                                     [&](const Interface& i) { return i.holds(nb.address); });
        if (on == c.interfaces.end()) {
            out.push_back({nb.address_location,
                           fmt::format("neighbor {} is not on any interface's subnet: BGP runs "
                                       "to a directly connected router",
                                       format_ip(nb.address))});
            continue;
        }
        if (on->is_own(nb.address))
            out.push_back(
                {nb.address_location, fmt::format("neighbor {} is this node's own address on '{}'",
                                                  format_ip(nb.address), on->name)});
        if (!on->kernel)
            out.push_back({nb.address_location,
                           fmt::format("neighbor {} is on interface '{}', which has no kernel "
                                       "exception path (kernel: false): BIRD's BGP and BFD "
                                       "sessions run through the node's kernel there",
                                       format_ip(nb.address), on->name)});
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

} // namespace

void validate_bgp_section(const Config& c, Diagnostics& out) {
    validate_bgp(c, out);
}

} // namespace lb::control::config
