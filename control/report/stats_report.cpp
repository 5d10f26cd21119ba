#include "control/report/stats_report.hpp"

#include <cstdio>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "control/config/value_parsers.hpp"

namespace lb::control::report {

using namespace lb::dataplane;

namespace {

template <typename F>
std::uint64_t sum(const std::vector<const WorkerCounters*>& workers, F field) {
    std::uint64_t total = 0;
    for (const auto* w : workers)
        total += field(*w).read();
    return total;
}

Json traffic_json(const std::vector<const WorkerCounters*>& workers,
                  const TrafficCounters& (*pick)(const WorkerCounters&, std::size_t),
                  std::size_t index) {
    auto total = [&](Counter TrafficCounters::*member) {
        std::uint64_t t = 0;
        for (const auto* w : workers)
            t += (pick(*w, index).*member).read();
        return t;
    };
    return {{"connections_total", total(&TrafficCounters::connections)},
            {"packets_in_total", total(&TrafficCounters::packets_in)},
            {"bytes_in_total", total(&TrafficCounters::bytes_in)},
            {"packets_out_total", total(&TrafficCounters::packets_out)},
            {"bytes_out_total", total(&TrafficCounters::bytes_out)}};
}

const TrafficCounters& service_counters(const WorkerCounters& w, std::size_t i) {
    return w.services[i];
}

const TrafficCounters& server_counters(const WorkerCounters& w, std::size_t i) {
    return w.real_servers[i];
}

} // namespace

Json render_stats(const config::Config& config, const IdentityRegistry& registry,
                  const std::vector<const WorkerCounters*>& workers,
                  const DataplaneContext& context, const health::DownSet& down) {
    Json out;
    out["node"] = config.node_name;
    out["rx_packets_total"] = sum(workers, [](auto& w) -> const Counter& { return w.rx_packets; });
    out["rx_bytes_total"] = sum(workers, [](auto& w) -> const Counter& { return w.rx_bytes; });
    out["tx_packets_total"] = sum(workers, [](auto& w) -> const Counter& { return w.tx_packets; });
    out["arp_replies_total"] =
        sum(workers, [](auto& w) -> const Counter& { return w.arp_replies; });
    out["icmp_echo_replies_total"] =
        sum(workers, [](auto& w) -> const Counter& { return w.icmp_echo_replies; });
    out["connections_active"] = context.connections->size();
    out["connections_capacity"] = context.connections->capacity();
    out["persistence_templates"] = context.templates->size();
    Json drops = Json::object();
    for (std::size_t r = 0; r < drop_reason_count; ++r) {
        std::uint64_t t = 0;
        for (const auto* w : workers)
            t += w->drops[r].read();
        drops[drop_reason_name(static_cast<DropReason>(r))] = t;
    }
    out["drops_total"] = drops;
    auto ftp = [&](Counter FtpCounters::*member) {
        std::uint64_t t = 0;
        for (const auto* w : workers)
            t += (w->ftp.*member).read();
        return t;
    };
    out["ftp"] = {{"pasv_rewritten_total", ftp(&FtpCounters::pasv_rewritten)},
                  {"pasv_unchanged_total", ftp(&FtpCounters::pasv_unchanged)},
                  {"expectations_total", ftp(&FtpCounters::expectations)},
                  {"active_connections_total", ftp(&FtpCounters::active_connections)},
                  {"malformed_total", ftp(&FtpCounters::malformed)},
                  {"bounce_refused_total", ftp(&FtpCounters::bounce_refused)},
                  {"split_lines_held_total", ftp(&FtpCounters::split_lines_held)},
                  {"not_rewritable_total", ftp(&FtpCounters::not_rewritable)}};
    Json per_worker = Json::array();
    for (const auto* w : workers)
        per_worker.push_back({{"rx_packets_total", w->rx_packets.read()},
                              {"busy_polls_total", w->busy_polls.read()},
                              {"idle_polls_total", w->idle_polls.read()}});
    out["workers"] = per_worker;
    Json services = Json::array();
    for (const auto& svc : config.services) {
        const std::size_t service_id = registry.find_service(svc.name).value_or(0);
        Json service = {{"name", svc.name}};
        service.update(traffic_json(workers, service_counters, service_id));
        Json servers = Json::array();
        for (const auto& rs : svc.real_servers) {
            const std::uint16_t id =
                registry.find_real_server(svc.name, rs.address, rs.port.value_or(0)).value_or(0);
            const std::string address = config::format_ipv4(rs.address);
            const bool drained = down.count({svc.name, rs.address, rs.port.value_or(0)}) > 0;
            // "server" names it as lbctl and the metrics do (with its port, if configured).
            Json server = {{"server", rs.port ? fmt::format("{}:{}", address, *rs.port) : address},
                           {"address", address},
                           {"weight", drained ? 0u : rs.weight},
                           {"configured_weight", rs.weight},
                           {"connections_active", context.load->get(id)}};
            server.update(traffic_json(workers, server_counters, id));
            servers.push_back(std::move(server));
        }
        service["real_servers"] = std::move(servers);
        services.push_back(std::move(service));
    }
    out["services"] = std::move(services);
    return out;
}

void write_file_atomically(const std::string& path, const std::string& content) {
    const std::string temporary = path + ".tmp";
    {
        std::ofstream f(temporary, std::ios::trunc);
        if (!f)
            throw std::runtime_error(fmt::format("cannot write {}", temporary));
        f << content;
    }
    if (std::rename(temporary.c_str(), path.c_str()) != 0)
        throw std::runtime_error(fmt::format("cannot rename {} to {}", temporary, path));
}

} // namespace lb::control::report
