#include "modules/bgp/admin_view.hpp"
#include "modules/bgp/module.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "control/json_text.hpp"

namespace lb::app {

using control::Json;
using control::report::iso8601_ms;
using control::report::Moment;
using control::report::monotonic_ms;

namespace {

// Whole seconds since `since`, on the monotonic clock: a step of the wall clock (NTP, an RTC
// wrong at boot) does not make BIRD down for -3 h.
std::int64_t seconds_since(const Moment& since, const Moment& now) {
    return std::max<std::int64_t>(
        0,
        std::chrono::duration_cast<std::chrono::seconds>(now.monotonic - since.monotonic).count());
}

Json nullable(bool present, Json value) {
    return present ? std::move(value) : Json(nullptr);
}

Json bird_json(const control::report::BgpReport& r, const Moment& now) {
    const bool up = r.bird_connected;
    const std::int64_t seconds = seconds_since(r.bird_since, now);
    return {{"state", r.bird},
            {"socket", r.socket},
            {"config", r.config},
            {"last_error", r.bird_error},
            {"reconfigurations", r.reconfigurations},
            {"errors", r.bird_errors},
            {"connected", up},
            {"version", nullable(up, r.bird_version)},
            {"up_since", nullable(up, iso8601_ms(r.bird_since.wall))},
            {"up_for_seconds", nullable(up, seconds)},
            {"down_since", nullable(!up, iso8601_ms(r.bird_since.wall))},
            {"down_for_seconds", nullable(!up, seconds)},
            {"error", nullable(!up, r.bird_down_reason)}};
}

Json as_json(const control::report::BgpReport& r, const Moment& now) {
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
    const auto& since = r.drained_since;
    return {{"as_of", iso8601_ms(now.wall)},
            {"as_of_monotonic_ms", monotonic_ms(now.monotonic)},
            {"bird", bird_json(r, now)},
            {"drained", r.drained},
            {"drain",
             {{"since", nullable(since.has_value(), since ? iso8601_ms(*since) : "")},
              {"state_file", r.drain_state_file},
              {"kept_across_restart", r.drain_not_kept.empty()},
              {"not_kept_because", nullable(!r.drain_not_kept.empty(), r.drain_not_kept)}}},
            {"shutting_down", r.shutting_down},
            {"vips", vips},
            {"neighbors", neighbors}};
}

// "up since T (N s): BIRD 2.0.12 ready." or "down since T (N s): why".
std::string bird_line(const control::report::BgpReport& r, const Moment& now) {
    return fmt::format("{} since {} ({} s): {}", r.bird_connected ? "up" : "down",
                       iso8601_ms(r.bird_since.wall), seconds_since(r.bird_since, now),
                       r.bird_connected ? r.bird_version : r.bird_down_reason);
}

std::string node_line(const control::report::BgpReport& r) {
    if (r.shutting_down)
        return "shutting down: every VIP withdrawn";
    const std::string kept = r.drain_not_kept.empty()
                                 ? fmt::format("kept across restarts in {}", r.drain_state_file)
                                 : fmt::format("NOT kept across a restart: {}", r.drain_not_kept);
    if (!r.drained)
        return r.drain_not_kept.empty() ? "serving" : "serving; " + kept;
    return fmt::format("drained (lbctl drain-node) since {}: every VIP withdrawn; {}",
                       r.drained_since ? iso8601_ms(*r.drained_since) : "an unknown time", kept);
}

std::string as_table(const control::report::BgpReport& r, const Moment& now) {
    std::string out = fmt::format("BIRD       {}\nsocket     {}\nconfig     {}\n",
                                  bird_line(r, now), r.socket, r.config);
    if (r.bird_connected && !r.bird_error.empty())
        out += fmt::format("last error {}\n", r.bird_error);
    out += fmt::format("node       {}\n\n", node_line(r));
    out += fmt::format("{:<16} {:<6} {:<9} {}\n", "VIP", "WANTED", "ANNOUNCED", "WHY");
    for (const auto& v : r.vips)
        out += fmt::format("{:<16} {:<6} {:<9} {}\n", v.vip, v.wanted ? "yes" : "no",
                           v.announced ? "yes" : "no", v.reason);
    // "unknown (BIRD down)" is wider than BIRD's own states.
    std::size_t state_width = 7;
    for (const auto& n : r.neighbors)
        state_width = std::max(state_width, n.state.size());
    out += fmt::format("\n{:<16} {:<11} {:<10} {:<{}} {:<20} {}\n", "NEIGHBOR", "AS", "PROTOCOL",
                       "STATE", state_width, "INFO", "BFD");
    for (const auto& n : r.neighbors)
        out += fmt::format("{:<16} {:<11} {:<10} {:<{}} {:<20} {}\n", n.address, n.as, n.protocol,
                           n.state, state_width, n.info.empty() ? "-" : n.info,
                           !n.bfd                ? "off"
                           : n.bfd_state.empty() ? "no session"
                                                 : n.bfd_state);
    return out;
}

} // namespace

control::AdminAnswer bgp_answer(const Balancer& b, bool json, const Moment& now) {
    const auto report = b.reports().parts().bgp;
    if (!report) {
        const std::string message = "bgp is not configured (no bgp section)";
        return {false, json ? control::json_text({{"error", message}}) : message};
    }
    return {true, json ? control::json_text(as_json(*report, now)) : as_table(*report, now)};
}

control::AdminAnswer bgp_view(const Balancer& balancer, const AdminRequest& request) {
    return bgp_answer(balancer, request.json, control::report::Moment::now());
}

} // namespace lb::app
