// Which VIPs this node announces, and why each one is or is not: the rule modules/bgp/driver
// applies whenever health, the configuration or the node's drain state changes.
//
// A VIP is announced while every service on it that `announce` names is at or above its quorum
// (real servers up: weight above 0, not held down by health checks, first check completed) and
// the node is not drained. Services share a VIP (one per port): the router sends all of the
// VIP's traffic to the node, so one service below quorum withdraws the whole VIP, as a node
// that cannot serve all of it must not attract any of it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/config/model.hpp"
#include "modules/health/monitor.hpp"

namespace lb::control::bgp {

struct VipDecision {
    std::uint32_t vip = 0; // host byte order
    bool announce = false;
    std::string reason;                // why it is or is not, for lbctl bgp
    std::vector<std::string> services; // the services on it that `announce` names
};

// In the order the VIPs first appear among the services.
std::vector<VipDecision> decide_announcements(const config::Config& config,
                                              const health::DownSet& down,
                                              const std::vector<health::HealthStatus>& statuses,
                                              bool drained);

} // namespace lb::control::bgp
