// The whole BIRD 2 configuration lb writes for a node (README, "Scaling out"): the router id,
// `protocol device`, `protocol bfd` when a neighbour wants it, one `protocol bgp` per
// neighbour exporting only lb's static protocol, and that protocol, `lb_vips`, with one
// blackhole /32 per announced VIP. BIRD never installs these routes anywhere (there is no
// kernel protocol): they exist to be exported; lb's dataplane does the forwarding.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/config/model.hpp"

namespace lb::control::bgp {

// The name of the static protocol holding the announced VIPs.
inline constexpr const char* vips_protocol = "lb_vips";

// The BGP protocol's name for neighbour `index` of bgp.neighbors: lb_peer1, lb_peer2, ...
std::string bgp_protocol_name(std::size_t index);

// The router id in effect: bgp.router_id, else the first interface's address.
std::uint32_t router_id(const config::Config& config);

// `announced`: the VIPs to announce (host byte order), in the order to write them.
// Requires config.bgp.
std::string bird_config_text(const config::Config& config,
                             const std::vector<std::uint32_t>& announced);

} // namespace lb::control::bgp
