#include "control/config/loader.hpp"

#include <algorithm>
#include <array>
#include <initializer_list>
#include <iterator>

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "control/config/file.hpp"
#include "control/config/ip_address.hpp"
#include "control/config/section_reader.hpp"
#include "control/config/validator.hpp"
#include "control/config/value_parsers.hpp"
#include "control/config/yaml_structure.hpp"
#include "modules/bgp/config_section.hpp"
#include "modules/health/config_section.hpp"
#include "modules/replication/config_section.hpp"
#include "modules/vrrp/config_section.hpp"

namespace lb::control::config {

namespace {

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

// One entry of `addresses`: the IPv4 address (one at most) or an IPv6 one (any number).
void add_interface_address(Reader& r, const YAML::Node& n, Interface& i, bool& have_ipv4) {
    const auto p = r.parsed(n, "address", parse_ip_prefix);
    if (!p)
        return;
    if (!p->address.is_ipv4()) {
        if (const auto error = unicast_address_error(p->address, false))
            return r.error(n, fmt::format("address: {}", *error));
        i.ipv6_addresses.push_back(*p);
        i.ipv6_address_locations.push_back(location_of(n));
        return;
    }
    if (have_ipv4)
        return r.error(n, fmt::format("an interface has one IPv4 address at most; {} is the "
                                      "second",
                                      format_ip(p->address)));
    have_ipv4 = true;
    i.address_location = location_of(n);
    i.address = p->address.ipv4();
    i.prefix_length = p->length;
}

// One entry of `gateways`: the next hop of one family (one per family).
void add_interface_gateway(Reader& r, const YAML::Node& n, Interface& i, bool& have_ipv4,
                           bool& have_ipv6) {
    const auto a = r.ip_address(n, "gateway", true);
    if (!a)
        return;
    bool& have = a->is_ipv4() ? have_ipv4 : have_ipv6;
    if (have)
        return r.error(n, fmt::format("an interface has one gateway per family; {} is a second "
                                      "{} one",
                                      format_ip(*a), to_string(a->family)));
    have = true;
    if (a->is_ipv4()) {
        i.gateway_location = location_of(n);
        i.gateway = a->ipv4();
    } else {
        i.ipv6_gateway_location = location_of(n);
        i.ipv6_gateway = *a;
    }
}

// A key with one value or its plural with a list (`address`/`addresses`): never both in one
// mapping. `add` takes each value; false when neither is there.
template <typename Add>
bool read_one_or_list(Reader& r, const YAML::Node& map, const char* one, const char* many,
                      bool list_may_be_empty, const char* example, Add add) {
    const YAML::Node single = map[one], list = map[many];
    if (single && list) {
        r.error(list, fmt::format("give '{}' or '{}', not both", one, many));
    } else if (single) {
        add(single);
    } else if (list) {
        if (!list.IsSequence() || (list.size() == 0 && !list_may_be_empty))
            r.error(list, fmt::format("{} must be a {}list, e.g. {}", many,
                                      list_may_be_empty ? "" : "non-empty ", example));
        else
            for (const auto& v : list)
                add(v);
    }
    return single || list;
}

// `address` (one IPv4 prefix) or `addresses` (the dual-stack form), and likewise `gateway` or
// `gateways`.
void read_interface_addresses(Reader& r, const YAML::Node& item, Interface& i) {
    bool have_address = false, have_gateway = false, have_ipv6_gateway = false;
    if (!read_one_or_list(
            r, item, "address", "addresses", false, "[198.51.100.2/24]",
            [&](const YAML::Node& n) { add_interface_address(r, n, i, have_address); }))
        r.error(item, "interface needs 'address' (this node's address, e.g. 198.51.100.2/24) or "
                      "'addresses'");
    read_one_or_list(r, item, "gateway", "gateways", true, "[198.51.100.1]",
                     [&](const YAML::Node& n) {
                         add_interface_gateway(r, n, i, have_gateway, have_ipv6_gateway);
                     });
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
                     {"name", "device", "address", "addresses", "gateway", "gateways", "kernel",
                      "kernel_name", "mtu"});
        Interface i;
        i.location = location_of(item);
        i.name = r.name(item, "interface").value_or("");
        i.device = r.required_string(item, "device", "interface").value_or("");
        read_interface_addresses(r, item, i);
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
                    r.error(m, fmt::format("mtu: {} is out of range ({}..{}): the largest IP "
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
            if (auto v = r.ip_address(a, "address"))
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
    r.check_keys(n, "persistence", {"timeout", "netmask", "prefix_length"});
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
    if (const auto l = n["prefix_length"]) {
        p.prefix_length_location = location_of(l);
        if (auto v = r.unsigned_value(l, "prefix_length", 0, 128))
            p.prefix_length = static_cast<std::uint8_t>(*v);
    }
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
            if (auto a = r.ip_address(v, "vip"))
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

// The top level: each key once, with its reader (a feature module's for its own section) and
// what to say when a required one is missing.
struct Section {
    const char* key;
    void (*read)(Reader&, const YAML::Node&, Config&);
    const char* missing = nullptr; // set: the section is required
};

constexpr Section sections[] = {
    {"node", read_node, "the configuration needs 'node' with a 'name'"},
    {"dpdk", read_dpdk},
    {"interfaces", read_interfaces, "the configuration needs 'interfaces'"},
    {"services", read_services},
    {"timeouts", read_timeouts},
    {"tables", read_tables},
    {"stats", read_stats},
    {"admin", read_admin},
    {"vrrp", read_vrrp_section},
    {"replication", read_replication_section},
    {"bgp", read_bgp_section},
};

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
        std::array<const char*, std::size(sections)> keys{};
        std::transform(std::begin(sections), std::end(sections), keys.begin(),
                       [](const Section& s) { return s.key; });
        r.check_keys(root, "the configuration", keys);
        for (const Section& s : sections) {
            if (const auto n = root[s.key])
                s.read(r, n, c);
            else if (s.missing)
                r.error(Location{1, 1}, s.missing);
        }
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
