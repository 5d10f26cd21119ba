#include "lb/admin_vrrp.hpp"

#include <chrono>

#include <fmt/format.h>

#include "control/config/value_parsers.hpp"
#include "control/json_text.hpp"

namespace lb::app {

namespace vrrp = control::vrrp;
using control::Json;
using control::config::format_ipv4;

namespace {

std::string since(std::chrono::system_clock::time_point t) {
    if (t == std::chrono::system_clock::time_point{})
        return "-";
    const auto s = std::chrono::duration_cast<std::chrono::duration<double>>(
                       std::chrono::system_clock::now() - t)
                       .count();
    return fmt::format("{:.1f}s ago", s);
}

std::int64_t ms_ago(std::chrono::system_clock::time_point t) {
    if (t == std::chrono::system_clock::time_point{})
        return -1;
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now() -
                                                                 t)
        .count();
}

} // namespace

control::AdminAnswer vrrp_answer(const Balancer& b, bool json) {
    const Balancer::VrrpReport report = b.vrrp();
    Json instances = Json::array();
    std::string table =
        fmt::format("{:<12} {:<8} {:>4} {:<7} {:>9} {:<15} {:<12} {}\n", "INSTANCE", "IFACE",
                    "VRID", "STATE", "PRIORITY", "MASTER", "TRANSITION", "WHY");
    for (const auto& s : report.instances) {
        const std::string master = s.master ? format_ipv4(s.master) : "-";
        std::string why = s.reason;
        if (!s.tracking.empty())
            why += " [tracking: " + s.tracking + "]";
        if (!s.sync_held.empty())
            why += " [" + s.sync_held + "]";
        if (!s.preemption_held.empty())
            why += " [not preempting: " + s.preemption_held + "]";
        table += fmt::format("{:<12} {:<8} {:>4} {:<7} {:>9} {:<15} {:<12} {}\n", s.name,
                             s.interface, s.vrid, vrrp::to_string(s.state),
                             fmt::format("{}/{}", s.priority, s.configured_priority), master,
                             since(s.last_transition), why);
        instances.push_back({{"name", s.name},
                             {"interface", s.interface},
                             {"vrid", s.vrid},
                             {"version", s.version},
                             {"state", vrrp::to_string(s.state)},
                             {"priority", s.priority},
                             {"configured_priority", s.configured_priority},
                             {"master", master},
                             {"last_transition_ms_ago", ms_ago(s.last_transition)},
                             {"reason", s.reason},
                             {"tracking", s.tracking},
                             {"sync_group_held", s.sync_held},
                             {"preemption_held", s.preemption_held},
                             {"transitions", s.transitions},
                             {"adverts_sent", s.adverts_sent},
                             {"adverts_received", s.adverts_received},
                             {"gratuitous_arps_sent", s.gratuitous_arps_sent}});
    }
    Json discarded = Json::object();
    std::string discarded_text;
    for (std::size_t d = 0; d < report.discarded.size(); ++d) {
        const char* name = vrrp::to_string(static_cast<vrrp::Discard>(d));
        discarded[name] = report.discarded[d];
        if (report.discarded[d])
            discarded_text += fmt::format(" {} {}", name, report.discarded[d]);
    }
    if (json)
        return {true, control::json_text({{"instances", instances},
                                          {"discarded", discarded},
                                          {"notify_fifo_lines_lost", report.notify_fifo_lost}})};
    if (report.instances.empty())
        return {true, "no VRRP instances\n"};
    if (!discarded_text.empty())
        table += "discarded advertisements:" + discarded_text + "\n";
    return {true, table};
}

} // namespace lb::app
