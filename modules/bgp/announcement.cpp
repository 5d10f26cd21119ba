#include "modules/bgp/announcement.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace lb::control::bgp {

namespace {

bool named(const config::Bgp& bgp, const std::string& service) {
    return bgp.announce_all ||
           std::find(bgp.announce.begin(), bgp.announce.end(), service) != bgp.announce.end();
}

// Real servers able to take new connections. A server whose first check has not completed
// does not count yet: a node that just started must not attract traffic for servers it has
// not seen answer (the dataplane already sends to them, which is harmless while no traffic
// comes).
unsigned servers_up(const config::Service& s, const health::DownSet& down,
                    const std::map<health::ServerKey, bool>& checked) {
    unsigned up = 0;
    for (const auto& rs : s.real_servers) {
        const health::ServerKey key{s.name, rs.address.ipv4(), rs.port.value_or(0)};
        if (rs.weight == 0 || down.count(key))
            continue;
        if (const auto it = checked.find(key); it != checked.end() && !it->second)
            continue;
        ++up;
    }
    return up;
}

} // namespace

std::vector<VipDecision> decide_announcements(const config::Config& config,
                                              const health::DownSet& down,
                                              const std::vector<health::HealthStatus>& statuses,
                                              bool drained) {
    std::vector<VipDecision> out;
    if (!config.bgp)
        return out;
    std::map<health::ServerKey, bool> checked;
    for (const auto& st : statuses)
        checked[st.server] = st.checked;
    std::vector<std::string> failing; // per VIP, filled below
    for (const auto& s : config.services) {
        auto it = std::find_if(out.begin(), out.end(),
                               [&](const VipDecision& d) { return d.vip == s.vip.ipv4(); });
        if (it == out.end()) {
            out.push_back({s.vip.ipv4(), true, {}, {}}); // IPv4 only yet (validator.cpp)
            failing.emplace_back();
            it = out.end() - 1;
        }
        if (!named(*config.bgp, s.name))
            continue;
        it->services.push_back(s.name);
        const unsigned up = servers_up(s, down, checked);
        const unsigned quorum = std::max(1u, s.quorum);
        if (up < quorum) {
            std::string& f = failing[static_cast<std::size_t>(it - out.begin())];
            f += fmt::format("{}service '{}' below quorum ({} of {} needed up)",
                             f.empty() ? "" : "; ", s.name, up, quorum);
        }
    }
    for (std::size_t i = 0; i < out.size(); ++i) {
        VipDecision& d = out[i];
        if (d.services.empty()) {
            d.announce = false;
            d.reason = "no service on it is in bgp.announce";
        } else if (drained) {
            d.announce = false;
            d.reason = "node drained (lbctl drain-node, or shutting down)";
        } else if (!failing[i].empty()) {
            d.announce = false;
            d.reason = failing[i];
        } else {
            d.announce = true;
            d.reason = "every service on it at or above quorum";
        }
    }
    return out;
}

} // namespace lb::control::bgp
