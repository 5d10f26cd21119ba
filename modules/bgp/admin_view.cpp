#include "modules/bgp/admin_view.hpp"

#include <fmt/format.h>

#include "control/json_text.hpp"

namespace lb::app {

using control::Json;

namespace {

Json as_json(const control::report::BgpReport& r) {
    Json vips = Json::array();
    for (const auto& v : r.vips)
        vips.push_back({{"vip", v.vip},
                        {"wanted", v.wanted},
                        {"announced", v.announced},
                        {"reason", v.reason},
                        {"services", v.services}});
    Json neighbors = Json::array();
    for (const auto& n : r.neighbors)
        neighbors.push_back(
            {{"address", n.address},
             {"as", n.as},
             {"protocol", n.protocol},
             {"state", n.state},
             {"info", n.info},
             {"established", n.established},
             {"bfd", n.bfd},
             {"bfd_state", n.bfd_state.empty() ? Json(nullptr) : Json(n.bfd_state)}});
    return {{"bird",
             {{"state", r.bird},
              {"socket", r.socket},
              {"config", r.config},
              {"last_error", r.bird_error},
              {"reconfigurations", r.reconfigurations},
              {"errors", r.bird_errors}}},
            {"drained", r.drained},
            {"shutting_down", r.shutting_down},
            {"vips", vips},
            {"neighbors", neighbors}};
}

std::string as_table(const control::report::BgpReport& r) {
    std::string out =
        fmt::format("BIRD       {} ({}){}\nconfig     {}\nnode       {}\n\n", r.bird, r.socket,
                    r.bird_error.empty() ? "" : ": " + r.bird_error, r.config,
                    r.shutting_down ? "shutting down: every VIP withdrawn"
                    : r.drained     ? "drained (lbctl drain-node): every VIP "
                                      "withdrawn"
                                    : "serving");
    out += fmt::format("{:<16} {:<6} {:<9} {}\n", "VIP", "WANTED", "ANNOUNCED", "WHY");
    for (const auto& v : r.vips)
        out += fmt::format("{:<16} {:<6} {:<9} {}\n", v.vip, v.wanted ? "yes" : "no",
                           v.announced ? "yes" : "no", v.reason);
    out += fmt::format("\n{:<16} {:<11} {:<10} {:<7} {:<20} {}\n", "NEIGHBOR", "AS", "PROTOCOL",
                       "STATE", "INFO", "BFD");
    for (const auto& n : r.neighbors)
        out += fmt::format("{:<16} {:<11} {:<10} {:<7} {:<20} {}\n", n.address, n.as, n.protocol,
                           n.state, n.info.empty() ? "-" : n.info,
                           !n.bfd                ? "off"
                           : n.bfd_state.empty() ? "no session"
                                                 : n.bfd_state);
    return out;
}

} // namespace

control::AdminAnswer bgp_answer(const Balancer& b, bool json) {
    const auto report = b.reports().parts().bgp;
    if (!report) {
        const std::string message = "bgp is not configured (no bgp section)";
        return {false, json ? control::json_text({{"error", message}}) : message};
    }
    return {true, json ? control::json_text(as_json(*report)) : as_table(*report)};
}

} // namespace lb::app
