#include "control/config/loader.hpp"

#include <algorithm>
#include <initializer_list>

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "control/config/file.hpp"
#include "control/config/validator.hpp"
#include "control/config/value_parsers.hpp"
#include "control/config/yaml_structure.hpp"

namespace lb::control::config {

namespace {

Location location_of(const YAML::Node& n) {
    return config::location_of(n.Mark());
}

// Walks the YAML tree, converting values and recording every problem it meets.
class Reader {
  public:
    explicit Reader(Diagnostics& out) : out_(out) {}

    void error(const YAML::Node& at, std::string message) {
        out_.push_back({location_of(at), std::move(message)});
    }
    void error(Location at, std::string message) { out_.push_back({at, std::move(message)}); }

    bool expect_map(const YAML::Node& n, const char* what) {
        if (n.IsMap())
            return true;
        error(n, fmt::format("{} must be a mapping", what));
        return false;
    }

    // Unknown keys are errors: a misspelt `persistance:` must not be silently ignored.
    void check_keys(const YAML::Node& map, const char* what,
                    std::initializer_list<const char*> allowed) {
        for (const auto& kv : map) {
            const auto key = kv.first.as<std::string>("");
            bool known = std::any_of(allowed.begin(), allowed.end(),
                                     [&](const char* a) { return key == a; });
            if (!known) {
                std::string list;
                for (const char* a : allowed)
                    list += (list.empty() ? "" : ", ") + std::string(a);
                error(kv.first,
                      fmt::format("unknown key '{}' in {} (expected one of: {})", key, what, list));
            }
        }
    }

    std::optional<std::string> scalar(const YAML::Node& n, const char* what) {
        if (!n.IsScalar()) {
            error(n, fmt::format("{} must be a single value", what));
            return std::nullopt;
        }
        return n.Scalar();
    }

    std::optional<std::string> required_string(const YAML::Node& map, const char* key,
                                               const char* what) {
        const YAML::Node n = map[key];
        if (!n) {
            error(map, fmt::format("{} needs '{}'", what, key));
            return std::nullopt;
        }
        auto s = scalar(n, key);
        if (s && s->empty()) {
            error(n, fmt::format("'{}' must not be empty", key));
            return std::nullopt;
        }
        return s;
    }

    // A name: required, and short enough to print in a line of lbctl or a metric label.
    std::optional<std::string> name(const YAML::Node& map, const char* what) {
        auto s = required_string(map, "name", what);
        if (s && s->size() > max_name_bytes) {
            error(map["name"],
                  fmt::format("name: {} bytes; a name has at most {}", s->size(), max_name_bytes));
            return std::nullopt;
        }
        return s;
    }

    template <typename Parse>
    auto parsed(const YAML::Node& n, const char* what, Parse parse)
        -> decltype(parse(std::string_view{}, std::declval<std::string&>())) {
        auto s = scalar(n, what);
        if (!s)
            return std::nullopt;
        std::string message;
        auto v = parse(*s, message);
        if (!v)
            error(n, fmt::format("{}: {}", what, message));
        return v;
    }

    std::optional<std::uint64_t> unsigned_value(const YAML::Node& n, const char* what,
                                                std::uint64_t min, std::uint64_t max) {
        auto v = parsed(n, what, [max](std::string_view t, std::string& e) {
            return parse_unsigned(t, max, e);
        });
        if (v && *v < min) {
            error(n, fmt::format("{}: {} is out of range ({}..{})", what, *v, min, max));
            return std::nullopt;
        }
        return v;
    }

    std::optional<bool> boolean(const YAML::Node& n, const char* what) {
        auto s = scalar(n, what);
        if (!s)
            return std::nullopt;
        if (*s == "true" || *s == "yes" || *s == "on")
            return true;
        if (*s == "false" || *s == "no" || *s == "off")
            return false;
        error(n, fmt::format("{}: '{}' is not a boolean (true or false)", what, *s));
        return std::nullopt;
    }

    template <typename Enum>
    std::optional<Enum> choice(const YAML::Node& n, const char* what,
                               std::initializer_list<std::pair<const char*, Enum>> options) {
        auto s = scalar(n, what);
        if (!s)
            return std::nullopt;
        std::string list;
        for (const auto& [name, value] : options) {
            if (*s == name)
                return value;
            list += (list.empty() ? "" : ", ") + std::string(name);
        }
        error(n, fmt::format("{}: '{}' is not one of {}", what, *s, list));
        return std::nullopt;
    }

  private:
    Diagnostics& out_;
};

void read_node(Reader& r, const YAML::Node& n, Config& c) {
    if (!r.expect_map(n, "node"))
        return;
    r.check_keys(n, "node", {"name"});
    if (auto name = r.name(n, "node"))
        c.node_name = *name;
}

void read_dpdk(Reader& r, const YAML::Node& n, Config& c) {
    if (!r.expect_map(n, "dpdk"))
        return;
    r.check_keys(n, "dpdk", {"eal_args", "workers", "idle_backoff"});
    if (const auto args = n["eal_args"]) {
        if (!args.IsSequence()) {
            r.error(args, "eal_args must be a list of strings");
        } else {
            for (const auto& a : args)
                if (auto s = r.scalar(a, "eal_args entry"))
                    c.dpdk.eal_args.push_back(*s);
        }
    }
    if (const auto w = n["workers"])
        if (auto v = r.unsigned_value(w, "workers", 1, 64))
            c.dpdk.workers = static_cast<unsigned>(*v);
    if (const auto b = n["idle_backoff"])
        if (auto v = r.boolean(b, "idle_backoff"))
            c.dpdk.idle_backoff = *v;
}

void read_interfaces(Reader& r, const YAML::Node& n, Config& c) {
    if (!n.IsSequence()) {
        r.error(n, "interfaces must be a list");
        return;
    }
    for (const auto& item : n) {
        if (!r.expect_map(item, "an interface"))
            continue;
        r.check_keys(item, "interface",
                     {"name", "device", "address", "gateway", "kernel", "kernel_name", "mtu"});
        Interface i;
        i.location = location_of(item);
        i.name = r.name(item, "interface").value_or("");
        i.device = r.required_string(item, "device", "interface").value_or("");
        if (const auto a = item["address"]) {
            i.address_location = location_of(a);
            if (auto p = r.parsed(a, "address", parse_ipv4_prefix)) {
                i.address = p->first;
                i.prefix_length = p->second;
            }
        } else {
            r.error(item, "interface needs 'address' (this node's address, e.g. 198.51.100.2/24)");
        }
        if (const auto g = item["gateway"]) {
            i.gateway_location = location_of(g);
            if (auto v = r.parsed(g, "gateway", parse_ipv4))
                i.gateway = *v;
        }
        if (const auto k = item["kernel"])
            if (auto v = r.boolean(k, "kernel"))
                i.kernel = *v;
        i.kernel_name = "lb-" + i.name;
        if (const auto k = item["kernel_name"]) {
            i.kernel_name_location = location_of(k);
            i.kernel_name = r.scalar(k, "kernel_name").value_or(i.kernel_name);
        }
        if (const auto m = item["mtu"]) {
            i.mtu_location = location_of(m);
            if (auto v = r.unsigned_value(m, "mtu", 0, 0xffffffff)) {
                if (*v < min_mtu || *v > max_mtu)
                    r.error(m, fmt::format("mtu: {} is out of range ({}..{}): the largest IPv4 "
                                           "packet the link carries, 1500 on Ethernet",
                                           *v, min_mtu, max_mtu));
                else
                    i.mtu = static_cast<std::uint16_t>(*v);
            }
        }
        c.interfaces.push_back(std::move(i));
    }
}

void read_ports(Reader& r, const YAML::Node& n, Service& s) {
    if (!n.IsSequence() || n.size() == 0) {
        r.error(n,
                "ports must be a non-empty list of ports and ranges, e.g. [21, \"10000-10100\"]");
        return;
    }
    for (const auto& p : n)
        if (auto range = r.parsed(p, "ports entry", parse_port_range))
            s.ports.push_back({range->first, range->second, location_of(p)});
}

// Reads a health_check mapping on top of `base` (the service's, for a server's override).
HealthCheck read_health_check(Reader& r, const YAML::Node& n, HealthCheck base) {
    base.location = location_of(n);
    if (!r.expect_map(n, "health_check"))
        return base;
    r.check_keys(n, "health_check",
                 {"type", "interval", "timeout", "warmup", "rise", "fall", "port", "method", "path",
                  "host", "expect_status", "body_regex", "send", "expect", "expect_regex",
                  "command"});
    if (const auto v = n["type"])
        if (auto t = r.choice<HealthCheck::Type>(v, "type",
                                                 {{"tcp", HealthCheck::Type::tcp},
                                                  {"http", HealthCheck::Type::http},
                                                  {"send_expect", HealthCheck::Type::send_expect},
                                                  {"udp", HealthCheck::Type::udp},
                                                  {"exec", HealthCheck::Type::exec}}))
            base.type = *t;
    auto duration = [&](const char* key, Milliseconds& into, bool allow_zero) {
        if (const auto v = n[key])
            if (auto d = r.parsed(v, key, parse_duration)) {
                if (!allow_zero && d->count() < 10)
                    r.error(v, fmt::format("{}: at least 10ms", key));
                into = *d;
            }
    };
    duration("interval", base.interval, false);
    duration("timeout", base.timeout, false);
    duration("warmup", base.warmup, true);
    if (const auto v = n["rise"])
        if (auto x = r.unsigned_value(v, "rise", 1, 100))
            base.rise = static_cast<unsigned>(*x);
    if (const auto v = n["fall"])
        if (auto x = r.unsigned_value(v, "fall", 1, 100))
            base.fall = static_cast<unsigned>(*x);
    if (const auto v = n["port"])
        if (auto x = r.unsigned_value(v, "port", 1, 65535))
            base.port = static_cast<std::uint16_t>(*x);
    auto text = [&](const char* key, std::string& into) {
        if (const auto v = n[key])
            if (auto t = r.scalar(v, key))
                into = *t;
    };
    text("method", base.method);
    text("path", base.path);
    text("host", base.host);
    text("send", base.send);
    text("expect", base.expect);
    text("command", base.command);
    if (const auto v = n["expect_status"]) {
        if (!v.IsSequence() || v.size() == 0) {
            r.error(v, "expect_status must be a list of codes and ranges, e.g. [200, \"300-399\"]");
        } else {
            base.expect_status.clear();
            for (const auto& item : v) {
                auto range = r.parsed(item, "expect_status entry", parse_port_range);
                if (range && (range->first < 100 || range->second > 599))
                    r.error(item, "expect_status: HTTP codes are 100..599");
                else if (range)
                    base.expect_status.push_back({range->first, range->second});
            }
        }
    }
    // Compiled here, once: every check of every server sharing the pattern uses this one.
    auto regex = [&](const char* key, Regex& into) {
        if (const auto v = n[key])
            if (auto t = r.scalar(v, key)) {
                try {
                    into = Regex(*t);
                } catch (const std::invalid_argument& e) {
                    r.error(v, fmt::format("{}: {}", key, e.what()));
                }
            }
    };
    regex("body_regex", base.body_regex);
    regex("expect_regex", base.expect_regex);
    if (base.type == HealthCheck::Type::exec && base.command.empty())
        r.error(n, "health_check: type exec needs 'command'");
    if ((base.type == HealthCheck::Type::udp) && base.send.empty())
        r.error(n, "health_check: type udp needs 'send'");
    if (base.timeout > base.interval)
        r.error(n, "health_check: timeout must not exceed interval");
    return base;
}

void read_real_servers(Reader& r, const YAML::Node& n, Service& s) {
    if (!n.IsSequence()) {
        r.error(n, "real_servers must be a list");
        return;
    }
    for (const auto& item : n) {
        if (!r.expect_map(item, "a real server"))
            continue;
        r.check_keys(item, "real server",
                     {"address", "port", "weight", "interface", "health_check"});
        RealServer rs;
        rs.location = location_of(item);
        if (const auto a = item["address"]) {
            if (auto v = r.parsed(a, "address", parse_ipv4))
                rs.address = *v;
        } else {
            r.error(item, "real server needs 'address'");
        }
        if (const auto p = item["port"]) {
            rs.port_location = location_of(p);
            if (auto v = r.unsigned_value(p, "port", 1, 65535))
                rs.port = static_cast<std::uint16_t>(*v);
        }
        if (const auto w = item["weight"])
            if (auto v = r.unsigned_value(w, "weight", 0, 65535))
                rs.weight = static_cast<std::uint32_t>(*v);
        if (const auto i = item["interface"]) {
            rs.interface_location = location_of(i);
            rs.interface = r.scalar(i, "interface");
        }
        if (const auto h = item["health_check"])
            rs.health_check = read_health_check(r, h, s.health_check.value_or(HealthCheck{}));
        else
            rs.health_check = s.health_check;
        s.real_servers.push_back(std::move(rs));
    }
}

void read_persistence(Reader& r, const YAML::Node& n, Service& s) {
    if (!r.expect_map(n, "persistence"))
        return;
    r.check_keys(n, "persistence", {"timeout", "netmask"});
    Persistence p;
    if (const auto t = n["timeout"]) {
        if (auto d = r.parsed(t, "timeout", parse_duration)) {
            if (d->count() == 0)
                r.error(t, "timeout: persistence needs a timeout above zero");
            p.timeout = *d;
        }
    }
    if (const auto m = n["netmask"])
        if (auto v = r.parsed(m, "netmask", parse_netmask))
            p.netmask = *v;
    s.persistence = p;
}

void read_services(Reader& r, const YAML::Node& n, Config& c) {
    if (!n.IsSequence()) {
        r.error(n, "services must be a list");
        return;
    }
    for (const auto& item : n) {
        if (!r.expect_map(item, "a service"))
            continue;
        r.check_keys(item, "service",
                     {"name", "vip", "protocol", "port", "ports", "scheduler", "forwarding",
                      "persistence", "real_servers", "maglev_table_size", "ftp", "health_check",
                      "on_failure", "quorum", "sorry_server"});
        Service s;
        s.location = location_of(item);
        if (const auto name = item["name"])
            s.name_location = location_of(name);
        s.name = r.name(item, "service").value_or("");
        if (const auto v = item["vip"]) {
            s.vip_location = location_of(v);
            if (auto a = r.parsed(v, "vip", parse_ipv4))
                s.vip = *a;
        } else {
            r.error(item, "service needs 'vip'");
        }
        if (const auto p = item["protocol"])
            if (auto v = r.choice<Protocol>(p, "protocol",
                                            {{"tcp", Protocol::tcp}, {"udp", Protocol::udp}}))
                s.protocol = *v;
        const auto port = item["port"];
        const auto ports = item["ports"];
        if (port && ports) {
            r.error(ports, "use exactly one of 'port' and 'ports', not both");
        } else if (port) {
            if (auto v = r.unsigned_value(port, "port", 1, 65535))
                s.ports.push_back({static_cast<std::uint16_t>(*v), static_cast<std::uint16_t>(*v),
                                   location_of(port)});
        } else if (ports) {
            s.port_group = true;
            read_ports(r, ports, s);
        } else {
            r.error(item, "service needs 'port' (one port) or 'ports' (a port-range group)");
        }
        if (const auto v = item["scheduler"])
            if (auto sch = r.choice<Scheduler>(v, "scheduler",
                                               {{"rr", Scheduler::rr},
                                                {"wrr", Scheduler::wrr},
                                                {"lc", Scheduler::lc},
                                                {"wlc", Scheduler::wlc},
                                                {"sh", Scheduler::sh},
                                                {"mh", Scheduler::mh}}))
                s.scheduler = *sch;
        if (const auto v = item["forwarding"]) {
            s.forwarding_location = location_of(v);
            if (auto f = r.choice<Forwarding>(v, "forwarding",
                                              {{"nat", Forwarding::nat},
                                               {"dr", Forwarding::dr},
                                               {"tunnel", Forwarding::tunnel}}))
                s.forwarding = *f;
        }
        if (const auto v = item["persistence"])
            read_persistence(r, v, s);
        if (const auto v = item["maglev_table_size"]) {
            s.maglev_location = location_of(v);
            if (auto m = r.unsigned_value(v, "maglev_table_size", 2, 1'000'003))
                s.maglev_table_size = static_cast<std::uint32_t>(*m);
        }
        if (const auto v = item["ftp"]) {
            s.ftp_location = location_of(v);
            s.ftp = r.boolean(v, "ftp");
        }
        if (const auto v = item["health_check"])
            s.health_check = read_health_check(r, v, HealthCheck{});
        if (const auto v = item["on_failure"])
            if (auto f = r.choice<Service::OnFailure>(
                    v, "on_failure",
                    {{"drain", Service::OnFailure::drain}, {"reset", Service::OnFailure::reset}}))
                s.on_failure = *f;
        if (const auto v = item["quorum"])
            if (auto q = r.unsigned_value(v, "quorum", 1, 4096))
                s.quorum = static_cast<unsigned>(*q);
        if (const auto v = item["sorry_server"]) {
            // Read like a one-server list: same keys, same checks (minus health_check).
            YAML::Node list(YAML::NodeType::Sequence);
            list.push_back(v);
            Service sorry;
            read_real_servers(r, list, sorry);
            if (!sorry.real_servers.empty()) {
                s.sorry_server = sorry.real_servers.front();
                s.sorry_server->health_check.reset();
                s.sorry_server->location = location_of(v);
            }
        }
        if (const auto v = item["real_servers"])
            read_real_servers(r, v, s);
        c.services.push_back(std::move(s));
    }
}

void read_timeouts(Reader& r, const YAML::Node& n, Config& c) {
    if (!r.expect_map(n, "timeouts"))
        return;
    r.check_keys(n, "timeouts", {"tcp_established", "tcp_syn", "tcp_fin", "tcp_close", "udp"});
    auto read = [&](const char* key, Milliseconds& into) {
        if (const auto v = n[key]) {
            if (auto d = r.parsed(v, key, parse_duration)) {
                if (d->count() == 0)
                    r.error(v, fmt::format("{}: a timeout must be above zero", key));
                into = *d;
            }
        }
    };
    read("tcp_established", c.timeouts.tcp_established);
    read("tcp_syn", c.timeouts.tcp_syn);
    read("tcp_fin", c.timeouts.tcp_fin);
    read("tcp_close", c.timeouts.tcp_close);
    read("udp", c.timeouts.udp);
}

void read_tables(Reader& r, const YAML::Node& n, Config& c) {
    if (!r.expect_map(n, "tables"))
        return;
    r.check_keys(n, "tables", {"connections", "persistence_templates", "ftp_sessions"});
    if (const auto v = n["connections"])
        if (auto x = r.unsigned_value(v, "connections", 1024, 1u << 27))
            c.tables.connections = static_cast<std::uint32_t>(*x);
    if (const auto v = n["persistence_templates"])
        if (auto x = r.unsigned_value(v, "persistence_templates", 1024, 1u << 26))
            c.tables.persistence_templates = static_cast<std::uint32_t>(*x);
    if (const auto v = n["ftp_sessions"])
        if (auto x = r.unsigned_value(v, "ftp_sessions", 16, 1u << 24))
            c.tables.ftp_sessions = static_cast<std::uint32_t>(*x);
}

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
    auto addresses = [&](const char* key, std::vector<std::uint32_t>& into) {
        if (const auto x = item[key]) {
            if (!x.IsSequence()) {
                r.error(x, fmt::format("{} must be a list of addresses", key));
                return;
            }
            for (const auto& a : x)
                if (auto ip = r.parsed(a, key, parse_ipv4))
                    into.push_back(*ip);
        }
    };
    addresses("unicast_peers", v.unicast_peers);
    addresses("virtual_addresses", v.virtual_addresses);
    if (v.virtual_addresses.empty())
        r.error(item, "VRRP instance needs 'virtual_addresses'");
    if (const auto x = item["unicast_source"])
        if (auto ip = r.parsed(x, "unicast_source", parse_ipv4))
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

void read_vrrp(Reader& r, const YAML::Node& n, Config& c) {
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

void read_admin(Reader& r, const YAML::Node& n, Config& c) {
    if (!r.expect_map(n, "admin"))
        return;
    r.check_keys(n, "admin", {"socket"});
    if (const auto v = n["socket"])
        if (auto s = r.scalar(v, "socket")) {
            if (s->empty() || (*s)[0] != '/')
                r.error(v, "socket: needs an absolute path, e.g. /run/lb/lb.sock");
            else
                c.admin.socket = *s;
        }
}

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
        if (auto ip = r.parsed(one, "peer", parse_ipv4)) {
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
        if (auto ip = r.parsed(a, "peers", parse_ipv4)) {
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

void read_replication(Reader& r, const YAML::Node& n, Config& c) {
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
            nb.address = r.parsed(v, "address", parse_ipv4).value_or(0);
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

// VIP announcement over BGP (README, "Scaling out").
void read_bgp(Reader& r, const YAML::Node& n, Config& c) {
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

void read_stats(Reader& r, const YAML::Node& n, Config& c) {
    if (!r.expect_map(n, "stats"))
        return;
    r.check_keys(n, "stats", {"file", "interval", "listen"});
    if (const auto v = n["listen"]) {
        if (auto s = r.scalar(v, "listen")) {
            const auto colon = s->rfind(':');
            std::string error;
            if (colon == std::string::npos || !parse_ipv4(s->substr(0, colon), error) ||
                !parse_unsigned(s->substr(colon + 1), 65535, error) || s->substr(colon + 1) == "0")
                r.error(v,
                        fmt::format("listen: '{}' is not ADDRESS:PORT (e.g. 127.0.0.1:9100)", *s));
            else
                c.stats.listen = *s;
        }
    }
    if (const auto v = n["file"])
        c.stats.file = r.scalar(v, "file").value_or("");
    if (const auto v = n["interval"])
        if (auto d = r.parsed(v, "interval", parse_duration)) {
            if (d->count() < 10)
                r.error(v, "interval: at least 10ms");
            c.stats.interval = *d;
        }
}

} // namespace

namespace {

LoadResult load_unguarded(const std::string& text) {
    LoadResult result;
    if (text.size() > max_config_bytes) {
        result.diagnostics.push_back(
            {{0, 0},
             fmt::format("the configuration is {} bytes, over the {} MiB limit", text.size(),
                         max_config_bytes / (1024 * 1024))});
        return result;
    }
    YAML::Node root;
    try {
        // Shape problems first (duplicate keys, a second document, bad UTF-8, huge values,
        // alias bombs): reading values from such a tree would report misleading errors.
        check_yaml_structure(text, result.diagnostics);
        if (!result.diagnostics.empty())
            return result;
        root = YAML::Load(text);
    } catch (const YAML::DeepRecursion& e) {
        // yaml-cpp stops at 2000 levels (rather than overflow its stack) but says "bad file".
        result.diagnostics.push_back(
            {config::location_of(e.mark), "nested too deeply (yaml-cpp stops at 2000 levels)"});
        return result;
    } catch (const YAML::ParserException& e) {
        result.diagnostics.push_back({config::location_of(e.mark), e.msg});
        return result;
    }
    Reader r(result.diagnostics);
    Config c;
    if (!root.IsMap()) {
        r.error(Location{1, 1}, "the configuration must be a mapping with node, dpdk, "
                                "interfaces and services");
        return result;
    }
    try {
        r.check_keys(root, "the configuration",
                     {"node", "dpdk", "interfaces", "services", "timeouts", "tables", "stats",
                      "admin", "vrrp", "replication", "bgp"});
        if (const auto n = root["node"])
            read_node(r, n, c);
        else
            r.error(Location{1, 1}, "the configuration needs 'node' with a 'name'");
        if (const auto n = root["dpdk"])
            read_dpdk(r, n, c);
        if (const auto n = root["interfaces"])
            read_interfaces(r, n, c);
        else
            r.error(Location{1, 1}, "the configuration needs 'interfaces'");
        if (const auto n = root["services"])
            read_services(r, n, c);
        if (const auto n = root["timeouts"])
            read_timeouts(r, n, c);
        if (const auto n = root["tables"])
            read_tables(r, n, c);
        if (const auto n = root["stats"])
            read_stats(r, n, c);
        if (const auto n = root["admin"])
            read_admin(r, n, c);
        if (const auto n = root["vrrp"])
            read_vrrp(r, n, c);
        if (const auto n = root["replication"])
            read_replication(r, n, c);
        if (const auto n = root["bgp"])
            read_bgp(r, n, c);
    } catch (const YAML::Exception& e) {
        // Shapes the readers above did not foresee (e.g. a key that is itself a mapping).
        result.diagnostics.push_back({config::location_of(e.mark), e.msg});
    }
    if (result.diagnostics.empty())
        validate_config(c, result.diagnostics);
    std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(),
                     [](const Diagnostic& a, const Diagnostic& b) {
                         return std::pair{a.location.line, a.location.column} <
                                std::pair{b.location.line, b.location.column};
                     });
    if (result.diagnostics.empty())
        result.config = std::move(c);
    return result;
}

} // namespace

LoadResult load_config_text(const std::string& text) {
    // The promise is "never throws for bad input": what the readers did not foresee (yaml-cpp
    // throwing outside a parser exception, memory running out) still becomes an error line.
    try {
        return load_unguarded(text);
    } catch (const std::exception& e) {
        LoadResult result;
        result.diagnostics.push_back({{1, 1}, fmt::format("cannot load: {}", e.what())});
        return result;
    }
}

LoadResult load_config_file(const std::string& path) {
    std::string text;
    try {
        text = read_config_file(path);
    } catch (const ConfigFileError& e) {
        LoadResult r;
        r.diagnostics.push_back({{0, 0}, e.what()});
        return r;
    }
    return load_config_text(text);
}

} // namespace lb::control::config
