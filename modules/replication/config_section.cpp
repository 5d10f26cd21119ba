#include "modules/replication/config_section.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "control/config/key_file.hpp"
#include "control/config/value_parsers.hpp"

namespace lb::control::config {

namespace {

constexpr Milliseconds max_sync_after{60'000};

// `peers: [A, B]`, or `peer: A` (the pair's form, kept) as a list of one. Duplicates and
// addresses off the interface are the validator's: they need the interface.
void read_replication_peers(Reader& r, const YAML::Node& n, Replication& rep) {
    const auto one = n["peer"];
    const auto list = n["peers"];
    if (one && list) {
        r.error(list, "replication: give either 'peer' (one node) or 'peers' (a list), not both");
        return;
    }
    if (one) {
        if (auto ip = r.ip_address(one, "peer", true)) {
            rep.peers.push_back(*ip);
            rep.peer_locations.push_back(location_of(one));
        }
        return;
    }
    if (!list) {
        r.error(n, "replication needs 'peers' (the other nodes' addresses on that interface) "
                   "or 'peer' (the one other node's)");
        return;
    }
    if (!list.IsSequence() || list.size() == 0) {
        r.error(list, "peers must be a list of one or more addresses, e.g. [198.51.100.3]");
        return;
    }
    if (list.size() > max_replication_peers) {
        r.error(list,
                fmt::format("peers: {} addresses, at most {}", list.size(), max_replication_peers));
        return;
    }
    for (const auto& a : list)
        if (auto ip = r.ip_address(a, "peers", true)) {
            rep.peers.push_back(*ip);
            rep.peer_locations.push_back(location_of(a));
        }
}

// key_file, previous_key_file: absolute paths, so that what `lb --check` read is what the
// node reads whatever its working directory.
void read_key_path(Reader& r, const YAML::Node& v, const char* what, const char* example,
                   std::string& path, SourceLocation& at) {
    at = location_of(v);
    auto s = r.scalar(v, what);
    if (!s)
        return;
    if (s->empty() || (*s)[0] != '/')
        r.error(v, fmt::format("{}: needs an absolute path, e.g. {}", what, example));
    else
        path = *s;
}

} // namespace

void read_replication_section(Reader& r, const YAML::Node& n, Config& c) {
    if (!r.expect_map(n, "replication"))
        return;
    r.check_keys(n, "replication",
                 {"interface", "peer", "peers", "port", "key_file", "previous_key_file",
                  "cluster_id", "sync_after", "epoch_file"});
    Replication rep;
    rep.location = location_of(n);
    if (const auto v = n["interface"]) {
        rep.interface = r.scalar(v, "interface").value_or("");
        rep.interface_location = location_of(v);
    } else {
        r.error(n, "replication needs 'interface' (the data interface sync traffic uses)");
    }
    read_replication_peers(r, n, rep);
    if (const auto v = n["port"])
        if (auto s = r.scalar(v, "port")) {
            std::string error;
            const auto port = parse_unsigned(*s, 65535, error);
            if (!port || *port == 0)
                r.error(v, fmt::format("port: '{}' is not a UDP port (1 to 65535)", *s));
            else
                rep.port = static_cast<std::uint16_t>(*port);
        }
    if (const auto v = n["key_file"])
        read_key_path(r, v, "key_file", "/etc/lb/sync.key", rep.key_file, rep.key_file_location);
    else
        r.error(n, "replication needs 'key_file' (a shared secret of at least 32 bytes)");
    if (const auto v = n["previous_key_file"])
        read_key_path(r, v, "previous_key_file", "/etc/lb/sync.key.old", rep.previous_key_file,
                      rep.previous_key_file_location);
    if (const auto v = n["cluster_id"])
        if (auto s = r.scalar(v, "cluster_id")) {
            std::string error;
            const auto id = parse_unsigned(*s, 0xffffffff, error);
            if (!id || *id == 0)
                r.error(v,
                        fmt::format("cluster_id: '{}' is not a number from 1 to 4294967295", *s));
            else
                rep.cluster_id = static_cast<std::uint32_t>(*id);
        }
    if (const auto v = n["epoch_file"])
        if (auto s = r.scalar(v, "epoch_file")) {
            if (s->empty() || (*s)[0] != '/')
                r.error(v,
                        "epoch_file: needs an absolute path, e.g. /var/lib/lb/replication-epoch");
            else
                rep.epoch_file = *s;
        }
    if (const auto v = n["sync_after"])
        if (auto d = r.parsed(v, "sync_after", parse_duration)) {
            if (*d > max_sync_after)
                r.error(v, "sync_after: at most 60s (connections younger than this are lost at a "
                           "failover)");
            else
                rep.sync_after = *d;
        }
    c.replication = std::move(rep);
}

// -- validation: rules spanning several values, on a configuration that parsed cleanly --

namespace {

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
        const IpAddress& peer = rep.peers[i];
        const SourceLocation& at = rep.peer_locations[i];
        const auto first = std::find(rep.peers.begin(), rep.peers.end(), peer);
        if (first != rep.peers.begin() + static_cast<std::ptrdiff_t>(i)) {
            const SourceLocation& earlier = rep.peer_locations[first - rep.peers.begin()];
            out.push_back({at, fmt::format("peer {} is listed twice (first at line {})",
                                           format_ip(peer), earlier.line)});
            continue;
        }
        if (peer.family != rep.peers.front().family) {
            out.push_back({at, fmt::format("peer {} is not of the first peer's family: the sync "
                                           "link is IPv4 or IPv6, one of them",
                                           format_ip(peer))});
            continue;
        }
        if (!iface)
            continue;
        // A link-local peer is on the interface's link by definition.
        if (iface->is_own(peer))
            out.push_back({at, fmt::format("peer {} is this node's own address on '{}'; give the "
                                           "other nodes'",
                                           format_ip(peer), iface->name)});
        else if (!iface->holds(peer) && !is_link_local(peer))
            out.push_back(
                {at, fmt::format("peer {} is not on interface '{}' ({}): replication "
                                 "runs between neighbours on one segment",
                                 format_ip(peer), iface->name, iface->subnets(peer.family))});
    }
    for (const auto& problem : load_replication_keys(rep).problems)
        out.push_back({problem.previous ? rep.previous_key_file_location : rep.key_file_location,
                       problem.message()});
}

} // namespace

void validate_replication_section(const Config& c, Diagnostics& out) {
    validate_replication(c, out);
}

} // namespace lb::control::config
