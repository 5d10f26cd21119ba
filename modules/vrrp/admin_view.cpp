#include "modules/vrrp/admin_view.hpp"
#include "modules/vrrp/module.hpp"

#include <chrono>

#include <fmt/format.h>

#include "control/config/value_parsers.hpp"
#include "control/json_text.hpp"

namespace lb::app {

namespace vrrp = control::vrrp;
using control::Json;
using control::config::format_ipv4;

using control::report::iso8601_ms;
using control::report::Moment;
using control::report::monotonic_ms;

namespace {

bool none_yet(const vrrp::InstanceStatus& s) {
    return s.last_transition == std::chrono::system_clock::time_point{};
}

// Counted on the monotonic clock, which a step of the wall clock does not move.
std::int64_t ms_ago(const vrrp::InstanceStatus& s, const Moment& now) {
    if (none_yet(s))
        return -1;
    return std::chrono::duration_cast<std::chrono::milliseconds>(now.monotonic -
                                                                 s.last_transition_monotonic)
        .count();
}

std::string transition_text(const vrrp::InstanceStatus& s, const Moment& now) {
    if (none_yet(s))
        return "-";
    return fmt::format("{} ({:.1f}s ago)", iso8601_ms(s.last_transition),
                       static_cast<double>(ms_ago(s, now)) / 1000);
}

} // namespace

control::AdminAnswer vrrp_answer(const control::report::VrrpReport& report, bool json,
                                 const Moment& now) {
    Json instances = Json::array();
    std::string table =
        fmt::format("{:<12} {:<8} {:>4} {:<7} {:>9} {:<15} {:<36} {}\n", "INSTANCE", "IFACE",
                    "VRID", "STATE", "PRIORITY", "MASTER", "LAST TRANSITION", "WHY");
    for (const auto& s : report.instances) {
        const std::string master = s.master ? format_ipv4(s.master) : "-";
        std::string why = s.reason;
        if (!s.tracking.empty())
            why += " [tracking: " + s.tracking + "]";
        if (!s.sync_held.empty())
            why += " [" + s.sync_held + "]";
        if (!s.preemption_held.empty())
            why += " [not preempting: " + s.preemption_held + "]";
        if (!s.listening)
            why += " [link down: not listening]";
        table += fmt::format("{:<12} {:<8} {:>4} {:<7} {:>9} {:<15} {:<36} {}\n", s.name,
                             s.interface, s.vrid, vrrp::to_string(s.state),
                             fmt::format("{}/{}", s.priority, s.configured_priority), master,
                             transition_text(s, now), why);
        instances.push_back(
            {{"name", s.name},
             {"interface", s.interface},
             {"vrid", s.vrid},
             {"version", s.version},
             {"state", vrrp::to_string(s.state)},
             {"priority", s.priority},
             {"configured_priority", s.configured_priority},
             {"master", master},
             {"last_transition", none_yet(s) ? Json(nullptr) : Json(iso8601_ms(s.last_transition))},
             {"last_transition_monotonic_ms",
              none_yet(s) ? Json(nullptr) : Json(monotonic_ms(s.last_transition_monotonic))},
             {"last_transition_ms_ago", ms_ago(s, now)},
             {"reason", s.reason},
             {"tracking", s.tracking},
             {"sync_group_held", s.sync_held},
             {"preemption_held", s.preemption_held},
             {"listening", s.listening},
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
        return {true, control::json_text({{"as_of", iso8601_ms(now.wall)},
                                          {"as_of_monotonic_ms", monotonic_ms(now.monotonic)},
                                          {"instances", instances},
                                          {"discarded", discarded},
                                          {"notify_fifo_lines_lost", report.notify_fifo_lost}})};
    if (report.instances.empty())
        return {true, "no VRRP instances\n"};
    if (!discarded_text.empty())
        table += "discarded advertisements:" + discarded_text + "\n";
    return {true, table};
}

control::AdminAnswer vrrp_view(const Balancer& balancer, const AdminRequest& request) {
    return vrrp_answer(balancer.reports().parts().vrrp.value_or(control::report::VrrpReport{}),
                       request.json, control::report::Moment::now());
}

} // namespace lb::app
