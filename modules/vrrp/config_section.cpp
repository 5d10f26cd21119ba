#include "modules/vrrp/config_section.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "control/config/key_file.hpp"
#include "control/config/value_parsers.hpp"

#include "modules/health/config_section.hpp"

namespace lb::control::config {

namespace {

// track: [{service|interface|script: NAME, weight: W}]
void read_vrrp_track(Reader& r, const YAML::Node& n, VrrpInstance& v) {
    if (!n.IsSequence()) {
        r.error(n, "track must be a list of {service|interface|script: NAME, weight: W}");
        return;
    }
    using Kind = VrrpInstance::Track::Kind;
    for (const auto& item : n) {
        if (!r.expect_map(item, "a tracked object"))
            continue;
        r.check_keys(item, "track", {"service", "interface", "script", "weight"});
        VrrpInstance::Track t;
        t.location = location_of(item);
        int kinds = 0;
        for (const auto& [key, kind] :
             {std::pair{"service", Kind::service}, std::pair{"interface", Kind::interface},
              std::pair{"script", Kind::script}})
            if (const auto x = item[key]) {
                ++kinds;
                t.kind = kind;
                t.name = r.scalar(x, key).value_or("");
            }
        if (kinds != 1) {
            r.error(item, "a tracked object names exactly one of 'service', 'interface' and "
                          "'script'");
            continue;
        }
        if (const auto w = item["weight"]) {
            // -254..254: a signed value, parsed through the unsigned reader on its magnitude.
            const std::string text = r.scalar(w, "weight").value_or("0");
            try {
                std::size_t used = 0;
                const int value = std::stoi(text, &used);
                if (used != text.size() || value < -254 || value > 254)
                    throw std::out_of_range(text);
                t.weight = value;
            } catch (const std::exception&) {
                r.error(w, "weight: a whole number -254..254 (0: FAULT while failing; negative: "
                           "lowers the priority while failing; positive: raises it while up)");
            }
        }
        v.track.push_back(std::move(t));
    }
}

// A tracking script checks every second and changes state on one result.
const HealthCheck& script_defaults() {
    static const HealthCheck defaults = [] {
        HealthCheck h;
        h.type = HealthCheck::Type::exec;
        h.interval = Milliseconds{1000};
        h.rise = 1;
        h.fall = 1;
        return h;
    }();
    return defaults;
}

// g++ 12 warns, wrongly, that the initializer list of HealthCheck::expect_status may be used
// uninitialised when a HealthCheck is built inside this function (a known false positive of its
// -Wmaybe-uninitialized with initializer lists).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
void read_vrrp_scripts(Reader& r, const YAML::Node& n, Config& c) {
    if (!n.IsSequence()) {
        r.error(n, "vrrp.scripts must be a list");
        return;
    }
    for (const auto& item : n) {
        if (!r.expect_map(item, "a VRRP tracking script"))
            continue;
        VrrpScript s;
        s.location = location_of(item);
        s.name = r.name(item, "VRRP tracking script").value_or("");
        // The remaining keys are an exec check's. The same node (a handle, not a copy), so that
        // its errors point into the file.
        YAML::Node check = item;
        check.remove("name");
        if (!item["command"]) {
            r.error(item, "a VRRP tracking script needs 'command' (run with /bin/sh -c; exit 0 is "
                          "success)");
            continue;
        }
        s.check = read_health_check(r, check, script_defaults());
        s.check.location = s.location;
        if (s.check.type != HealthCheck::Type::exec)
            r.error(item, "a VRRP tracking script is an exec check: leave 'type' out");
        c.vrrp.scripts.push_back(std::move(s));
    }
}

#pragma GCC diagnostic pop

void read_vrrp_sync_groups(Reader& r, const YAML::Node& n, Config& c) {
    if (!n.IsSequence()) {
        r.error(n, "vrrp.sync_groups must be a list");
        return;
    }
    for (const auto& item : n) {
        if (!r.expect_map(item, "a VRRP sync group"))
            continue;
        r.check_keys(item, "sync group", {"name", "instances"});
        VrrpSyncGroup g;
        g.location = location_of(item);
        g.name = r.name(item, "sync group").value_or("");
        const auto list = item["instances"];
        if (!list || !list.IsSequence() || list.size() < 2) {
            r.error(list ? list : item, "a sync group needs 'instances': a list of two or more");
            continue;
        }
        for (const auto& x : list)
            g.instances.push_back(r.scalar(x, "instances").value_or(""));
        c.vrrp.sync_groups.push_back(std::move(g));
    }
}

// The instance's identity: name, interface, virtual router id.
void read_vrrp_identity(Reader& r, const YAML::Node& item, VrrpInstance& v) {
    v.location = location_of(item);
    v.name = r.name(item, "VRRP instance").value_or("");
    if (const auto i = item["interface"])
        v.interface_location = location_of(i);
    v.interface = r.required_string(item, "interface", "VRRP instance").value_or("");
    if (const auto x = item["virtual_router_id"]) {
        v.vrid_location = location_of(x);
        if (auto id = r.unsigned_value(x, "virtual_router_id", 1, 255))
            v.virtual_router_id = static_cast<std::uint8_t>(*id);
    } else {
        r.error(item, "VRRP instance needs 'virtual_router_id' (1..255)");
    }
}

// priority, version, advert_int (whose steps depend on the version), preempt, preempt_delay.
void read_vrrp_election(Reader& r, const YAML::Node& item, VrrpInstance& v) {
    if (const auto x = item["priority"])
        if (auto p = r.unsigned_value(x, "priority", 1, 255))
            v.priority = static_cast<std::uint8_t>(*p);
    if (const auto x = item["version"])
        if (auto ver = r.unsigned_value(x, "version", 2, 3))
            v.version = static_cast<unsigned>(*ver);
    if (const auto x = item["advert_int"]) {
        if (auto d = r.parsed(x, "advert_int", parse_duration)) {
            v.advert_int = *d;
            if (v.version == 3 && (d->count() < 10 || d->count() > 40950 || d->count() % 10))
                r.error(x, "advert_int: VRRPv3 counts in 10 ms steps, 10ms..40950ms");
            else if (v.version == 2 &&
                     (d->count() < 1000 || d->count() > 255000 || d->count() % 1000))
                r.error(x, "advert_int: VRRPv2 counts whole seconds, 1s..255s");
        }
    }
    if (const auto x = item["preempt"])
        if (auto b = r.boolean(x, "preempt"))
            v.preempt = *b;
    if (const auto x = item["preempt_delay"])
        if (auto d = r.parsed(x, "preempt_delay", parse_duration))
            v.preempt_delay = *d;
}

void read_vrrp_authentication(Reader& r, const YAML::Node& item, VrrpInstance& v) {
    const auto x = item["authentication"];
    if (!x || !r.expect_map(x, "authentication"))
        return;
    r.check_keys(x, "authentication", {"type", "password"});
    if (const auto t = x["type"])
        if (r.scalar(t, "type").value_or("") != "PASS")
            r.error(t, "authentication: type PASS is the only one (VRRPv2)");
    if (const auto pw = x["password"])
        v.password = r.scalar(pw, "password").value_or("");
    if (v.version != 2)
        r.error(x, "authentication is VRRPv2 only (RFC 5798 removed it): set "
                   "version: 2");
    if (v.password.empty() || v.password.size() > 8)
        r.error(x, "authentication: a password of 1 to 8 characters");
}

// unicast_peers, virtual_addresses, unicast_source, use_vmac.
void read_vrrp_addresses(Reader& r, const YAML::Node& item, VrrpInstance& v) {
    // Link-local is allowed: an IPv6 virtual router's first address is its link-local one
    // (RFC 5798 5.2.9), and a unicast peer may be addressed by its own.
    auto addresses = [&](const char* key, std::vector<IpAddress>& into) {
        if (const auto x = item[key]) {
            if (!x.IsSequence()) {
                r.error(x, fmt::format("{} must be a list of addresses", key));
                return;
            }
            for (const auto& a : x)
                if (auto ip = r.ip_address(a, key, true))
                    into.push_back(*ip);
        }
    };
    addresses("unicast_peers", v.unicast_peers);
    addresses("virtual_addresses", v.virtual_addresses);
    if (v.virtual_addresses.empty())
        r.error(item, "VRRP instance needs 'virtual_addresses'");
    if (const auto x = item["unicast_source"])
        if (auto ip = r.ip_address(x, "unicast_source", true))
            v.unicast_source = *ip;
    if (const auto x = item["use_vmac"])
        if (auto b = r.boolean(x, "use_vmac"))
            v.use_vmac = *b;
}

void read_vrrp_garp(Reader& r, const YAML::Node& item, VrrpInstance& v) {
    const auto g = item["garp"];
    if (!g || !r.expect_map(g, "garp"))
        return;
    r.check_keys(g, "garp", {"repeat", "delay", "refresh", "refresh_repeat"});
    if (const auto x = g["repeat"])
        if (auto n = r.unsigned_value(x, "repeat", 1, 100))
            v.garp.repeat = static_cast<unsigned>(*n);
    if (const auto x = g["refresh_repeat"])
        if (auto n = r.unsigned_value(x, "refresh_repeat", 1, 100))
            v.garp.refresh_repeat = static_cast<unsigned>(*n);
    if (const auto x = g["delay"])
        if (auto d = r.parsed(x, "delay", parse_duration))
            v.garp.delay = *d;
    if (const auto x = g["refresh"])
        if (auto d = r.parsed(x, "refresh", parse_duration))
            v.garp.refresh = *d;
}

void read_vrrp_notify(Reader& r, const YAML::Node& item, VrrpInstance& v) {
    const auto x = item["notify"];
    if (!x || !r.expect_map(x, "notify"))
        return;
    r.check_keys(x, "notify", {"master", "backup", "fault", "stop"});
    auto command = [&](const char* key, std::string& into) {
        if (const auto cmd = x[key])
            into = r.scalar(cmd, key).value_or("");
    };
    command("master", v.notify.master);
    command("backup", v.notify.backup);
    command("fault", v.notify.fault);
    command("stop", v.notify.stop);
}

VrrpInstance read_vrrp_instance(Reader& r, const YAML::Node& item) {
    r.check_keys(item, "VRRP instance",
                 {"name", "interface", "virtual_router_id", "priority", "advert_int", "version",
                  "preempt", "preempt_delay", "authentication", "unicast_peers", "unicast_source",
                  "virtual_addresses", "use_vmac", "garp", "track", "notify"});
    VrrpInstance v;
    read_vrrp_identity(r, item, v);
    read_vrrp_election(r, item, v);
    read_vrrp_authentication(r, item, v);
    read_vrrp_addresses(r, item, v);
    read_vrrp_garp(r, item, v);
    if (const auto t = item["track"])
        read_vrrp_track(r, t, v);
    read_vrrp_notify(r, item, v);
    return v;
}

} // namespace

void read_vrrp_section(Reader& r, const YAML::Node& n, Config& c) {
    if (!r.expect_map(n, "vrrp"))
        return;
    r.check_keys(n, "vrrp", {"instances", "scripts", "sync_groups", "notify_fifo"});
    if (const auto f = n["notify_fifo"])
        c.vrrp.notify_fifo = r.scalar(f, "notify_fifo").value_or("");
    if (const auto scripts = n["scripts"])
        read_vrrp_scripts(r, scripts, c);
    if (const auto groups = n["sync_groups"])
        read_vrrp_sync_groups(r, groups, c);
    const auto list = n["instances"];
    if (!list)
        return;
    if (!list.IsSequence()) {
        r.error(list, "vrrp.instances must be a list");
        return;
    }
    for (const auto& item : list)
        if (r.expect_map(item, "a VRRP instance"))
            c.vrrp.instances.push_back(read_vrrp_instance(r, item));
}

// -- validation: rules spanning several values, on a configuration that parsed cleanly --

namespace {

void validate_vrrp(const Config& c, Diagnostics& out) {
    std::map<std::string, const VrrpInstance*> names;
    // An IPv4 and an IPv6 virtual router with one VRID on one link are two routers (their
    // virtual MACs differ: 00:00:5e:00:01:XX and 00:00:5e:00:02:XX).
    std::map<std::tuple<std::string, int, Family>, const VrrpInstance*> ids;
    std::map<IpAddress, const VrrpInstance*> owners;
    for (const auto& v : c.vrrp.instances) {
        if (!v.name.empty() && !names.emplace(v.name, &v).second)
            out.push_back(
                {v.location, fmt::format("VRRP instance name '{}' is used twice", v.name)});
        const Interface* iface = c.find_interface(v.interface);
        if (!v.interface.empty() && !iface)
            out.push_back(
                {v.interface_location, fmt::format("interface '{}' is not defined", v.interface)});
        const Family family =
            v.virtual_addresses.empty() ? Family::ipv4 : v.virtual_addresses.front().family;
        if (!ids.emplace(std::tuple{v.interface, int{v.virtual_router_id}, family}, &v).second)
            out.push_back({v.vrid_location,
                           fmt::format("virtual_router_id {} is used twice on interface '{}'",
                                       v.virtual_router_id, v.interface)});
        for (const auto& a : v.virtual_addresses) {
            if (a.family != family)
                out.push_back(
                    {v.location,
                     fmt::format("virtual address {} is {} where the instance's first is {}: a "
                                 "VRRP instance is one family (RFC 5798); put the {} addresses "
                                 "in an instance of their own, and both in one sync group",
                                 format_ip(a), to_string(a.family), to_string(family),
                                 to_string(a.family))});
            if (!owners.emplace(a, &v).second)
                out.push_back({v.location, fmt::format("virtual address {} belongs to two VRRP "
                                                       "instances",
                                                       format_ip(a))});
            if (iface && iface->is_own(a))
                out.push_back({v.location, fmt::format("virtual address {} is the node address "
                                                       "of interface '{}'",
                                                       format_ip(a), iface->name)});
        }
        if (family == Family::ipv6 && v.version != 3)
            out.push_back({v.location, "an IPv6 VRRP instance needs version: 3 (VRRPv2 is IPv4 "
                                       "only)"});
        for (const auto& peer : v.unicast_peers)
            if (peer.family != family)
                out.push_back({v.location,
                               fmt::format("unicast peer {} is not of the instance's family: "
                                           "adverts of an {} instance travel over {}",
                                           format_ip(peer), to_string(family), to_string(family))});
        if (v.unicast_source && v.unicast_source->family != family)
            out.push_back({v.location, fmt::format("unicast_source {} is not of the instance's "
                                                   "family",
                                                   format_ip(*v.unicast_source))});
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
        if (v.unicast_source && v.unicast_source->is_ipv4() && iface &&
            v.unicast_source->ipv4() != iface->address)
            out.push_back(
                {v.location, fmt::format("unicast_source {} is not the address of interface '{}'",
                                         format_ip(*v.unicast_source), iface->name)});
    }
}

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

} // namespace

void validate_vrrp_section(const Config& c, Diagnostics& out) {
    validate_vrrp(c, out);
    validate_vrrp_groups(c, out);
}

} // namespace lb::control::config
