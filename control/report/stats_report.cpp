#include "control/report/stats_report.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

namespace lb::control::report {

namespace {

Json traffic_json(const TrafficTotals& t) {
    return {{"connections_total", t.connections},
            {"packets_in_total", t.packets_in},
            {"bytes_in_total", t.bytes_in},
            {"packets_out_total", t.packets_out},
            {"bytes_out_total", t.bytes_out}};
}

Json real_server_json(const RealServerView& rs) {
    // "server" names it as lbctl and the metrics do (with its port, if configured).
    Json out = {{"server", rs.server},
                {"address", rs.address},
                {"weight", rs.weight()},
                {"configured_weight", rs.configured_weight},
                {"connections_active", rs.connections_active}};
    out.update(traffic_json(rs.traffic));
    return out;
}

Json services_json(const std::vector<ServiceView>& services) {
    Json out = Json::array();
    for (const auto& service : services) {
        Json one = {{"name", service.name}};
        one.update(traffic_json(service.traffic));
        Json servers = Json::array();
        for (const auto& rs : service.real_servers)
            servers.push_back(real_server_json(rs));
        one["real_servers"] = std::move(servers);
        out.push_back(std::move(one));
    }
    return out;
}

Json health_json(const std::vector<health::HealthStatus>& health) {
    Json out = Json::array();
    for (const auto& h : health) {
        const auto& [service, address, port] = h.server;
        out.push_back({{"service", service},
                       {"server", server_name(address, port)},
                       {"check", h.check},
                       {"up", h.up},
                       {"checked", h.checked},
                       {"failures_total", h.failures_total},
                       {"checks_total", h.checks_total}});
    }
    return out;
}

Json device_json(const DeviceCounters& d) {
    return {{"rx_packets_total", d.rx_packets}, {"rx_missed_total", d.rx_missed},
            {"rx_errors_total", d.rx_errors},   {"rx_no_mbuf_total", d.rx_no_mbuf},
            {"tx_packets_total", d.tx_packets}, {"tx_errors_total", d.tx_errors}};
}

Json interfaces_json(const std::vector<InterfaceCounters>& interfaces) {
    Json out = Json::array();
    for (const auto& i : interfaces) {
        Json one = {{"name", i.name}, {"device", i.device}};
        one.update(device_json(i.data));
        if (i.has_kernel_path)
            one["kernel_path"] = device_json(i.kernel_path);
        out.push_back(std::move(one));
    }
    return out;
}

} // namespace

Json render_stats(const StatsView& view) {
    Json out;
    out["node"] = view.node;
    out["rx_packets_total"] = view.rx_packets;
    out["rx_bytes_total"] = view.rx_bytes;
    out["tx_packets_total"] = view.tx_packets;
    out["arp_replies_total"] = view.arp_replies;
    out["icmp_echo_replies_total"] = view.icmp_echo_replies;
    out["icmp_frag_needed_total"] = view.icmp_frag_needed;
    out["connections_active"] = view.connections_active;
    out["connections_capacity"] = view.connections_capacity;
    out["persistence_templates"] = view.persistence_templates;
    Json drops = Json::object();
    for (const auto& [reason, total] : view.drops)
        drops[reason] = total;
    out["drops_total"] = std::move(drops);
    Json ftp = Json::object();
    for (const auto& event : view.ftp)
        ftp[event.stats_name] = event.total;
    out["ftp"] = std::move(ftp);
    Json workers = Json::array();
    for (const auto& w : view.workers)
        workers.push_back({{"rx_packets_total", w.rx_packets},
                           {"busy_polls_total", w.busy_polls},
                           {"idle_polls_total", w.idle_polls}});
    out["workers"] = std::move(workers);
    out["services"] = services_json(view.services);
    out["control_loop_lag_max_ms"] = view.control_loop_lag_max_ms;
    out["health"] = health_json(view.health);
    out["interfaces"] = interfaces_json(view.interfaces);
    return out;
}

void write_file_atomically(const std::string& path, const std::string& content) {
    const std::string temporary = path + ".tmp";
    {
        std::ofstream f(temporary, std::ios::trunc);
        f << content;
        f.flush();
        if (!f) {
            const std::string reason = std::strerror(errno);
            std::remove(temporary.c_str());
            throw std::runtime_error(fmt::format("cannot write {}: {}", temporary, reason));
        }
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0) {
        const std::string reason = std::strerror(errno);
        std::remove(temporary.c_str());
        throw std::runtime_error(
            fmt::format("cannot rename {} to {}: {}", temporary, path, reason));
    }
}

} // namespace lb::control::report
