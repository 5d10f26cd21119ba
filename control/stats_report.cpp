#include "control/stats_report.hpp"

#include <cstdio>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "control/value_parsers.hpp"

namespace lb::control {

using namespace lb::dataplane;

namespace {

template <typename F>
std::uint64_t sum(const std::vector<const WorkerCounters*>& workers, F field) {
    std::uint64_t total = 0;
    for (const auto* w : workers)
        total += field(*w).read();
    return total;
}

std::string traffic_json(const std::vector<const WorkerCounters*>& workers,
                         const TrafficCounters& (*pick)(const WorkerCounters&, std::size_t),
                         std::size_t index) {
    auto total = [&](Counter TrafficCounters::*member) {
        std::uint64_t t = 0;
        for (const auto* w : workers)
            t += (pick(*w, index).*member).read();
        return t;
    };
    return fmt::format("\"connections_total\": {}, \"packets_in_total\": {}, \"bytes_in_total\": "
                       "{}, \"packets_out_total\": {}, \"bytes_out_total\": {}",
                       total(&TrafficCounters::connections), total(&TrafficCounters::packets_in),
                       total(&TrafficCounters::bytes_in), total(&TrafficCounters::packets_out),
                       total(&TrafficCounters::bytes_out));
}

} // namespace

std::string render_stats_json(const config::Config& config, const IdentityRegistry& registry,
                              const std::vector<const WorkerCounters*>& workers,
                              const DataplaneContext& context) {
    std::string out = "{\n";
    out += fmt::format("  \"node\": \"{}\",\n", config.node_name);
    out += fmt::format("  \"rx_packets_total\": {},\n",
                       sum(workers, [](auto& w) -> const Counter& { return w.rx_packets; }));
    out += fmt::format("  \"rx_bytes_total\": {},\n",
                       sum(workers, [](auto& w) -> const Counter& { return w.rx_bytes; }));
    out += fmt::format("  \"tx_packets_total\": {},\n",
                       sum(workers, [](auto& w) -> const Counter& { return w.tx_packets; }));
    out += fmt::format("  \"arp_replies_total\": {},\n",
                       sum(workers, [](auto& w) -> const Counter& { return w.arp_replies; }));
    out += fmt::format("  \"icmp_echo_replies_total\": {},\n",
                       sum(workers, [](auto& w) -> const Counter& { return w.icmp_echo_replies; }));
    out += fmt::format("  \"connections_active\": {},\n", context.connections->size());
    out += fmt::format("  \"connections_capacity\": {},\n", context.connections->capacity());
    out += fmt::format("  \"persistence_templates\": {},\n", context.templates->size());
    out += "  \"drops_total\": {";
    for (std::size_t r = 0; r < drop_reason_count; ++r) {
        std::uint64_t t = 0;
        for (const auto* w : workers)
            t += w->drops[r].read();
        out += fmt::format("{}\"{}\": {}", r ? ", " : "",
                           drop_reason_name(static_cast<DropReason>(r)), t);
    }
    out += "},\n";
    auto ftp = [&](Counter FtpCounters::*member) {
        std::uint64_t t = 0;
        for (const auto* w : workers)
            t += (w->ftp.*member).read();
        return t;
    };
    out += fmt::format("  \"ftp\": {{\"pasv_rewritten_total\": {}, \"pasv_unchanged_total\": {}, "
                       "\"expectations_total\": {}, \"active_connections_total\": {}, "
                       "\"malformed_total\": {}, \"bounce_refused_total\": {}, "
                       "\"split_lines_held_total\": {}, \"not_rewritable_total\": {}}},\n",
                       ftp(&FtpCounters::pasv_rewritten), ftp(&FtpCounters::pasv_unchanged),
                       ftp(&FtpCounters::expectations), ftp(&FtpCounters::active_connections),
                       ftp(&FtpCounters::malformed), ftp(&FtpCounters::bounce_refused),
                       ftp(&FtpCounters::split_lines_held), ftp(&FtpCounters::not_rewritable));
    out += "  \"workers\": [";
    for (std::size_t i = 0; i < workers.size(); ++i)
        out += fmt::format("{}{{\"rx_packets_total\": {}, \"busy_polls_total\": {}, "
                           "\"idle_polls_total\": {}}}",
                           i ? ", " : "", workers[i]->rx_packets.read(),
                           workers[i]->busy_polls.read(), workers[i]->idle_polls.read());
    out += "],\n  \"services\": [\n";
    for (std::size_t s = 0; s < config.services.size(); ++s) {
        const auto& svc = config.services[s];
        const std::size_t service_id = registry.find_service(svc.name).value_or(0);
        out +=
            fmt::format("    {{\"name\": \"{}\", {}, \"real_servers\": [", svc.name,
                        traffic_json(
                            workers,
                            [](const WorkerCounters& w, std::size_t i) -> const TrafficCounters& {
                                return w.services[i];
                            },
                            service_id));
        for (std::size_t r = 0; r < svc.real_servers.size(); ++r) {
            const auto& rs = svc.real_servers[r];
            const std::uint16_t id =
                registry.find_real_server(svc.name, rs.address, rs.port.value_or(0)).value_or(0);
            out += fmt::format(
                "{}\n      {{\"address\": \"{}\", \"weight\": {}, \"connections_active\": {}, {}}}",
                r ? "," : "", config::format_ipv4(rs.address), rs.weight, context.load->get(id),
                traffic_json(
                    workers,
                    [](const WorkerCounters& w, std::size_t i) -> const TrafficCounters& {
                        return w.real_servers[i];
                    },
                    id));
        }
        out += fmt::format("]}}{}\n", s + 1 < config.services.size() ? "," : "");
    }
    out += "  ]\n}\n";
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

} // namespace lb::control
