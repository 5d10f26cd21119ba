#include "modules/bgp/metric_families.hpp"

namespace lb::control::report::metrics {

void add_bgp_families(Families& out, const StatsView& view) {
    if (!view.bgp)
        return;
    const auto& r = *view.bgp;
    auto announced = family("lb_bgp_vip_announced",
                            "1 while the VIP is in the BIRD configuration BIRD confirmed loading",
                            MetricType::Gauge);
    for (const auto& v : r.vips)
        add(announced, {{"vip", v.vip}}, v.announced ? 1 : 0);
    auto session =
        family("lb_bgp_session_up", "1 while BIRD's BGP session with the neighbor is Established",
               MetricType::Gauge);
    for (const auto& n : r.neighbors)
        add(session, {{"neighbor", n.address}}, n.established ? 1 : 0);
    auto reconfigurations =
        family("lb_bgp_reconfigurations_total",
               "BIRD configurations written by lb that BIRD accepted", MetricType::Counter);
    add(reconfigurations, {}, number(r.reconfigurations));
    auto errors = family("lb_bgp_bird_errors_total",
                         "Refused BIRD commands, lost control connections, unwritable files",
                         MetricType::Counter);
    add(errors, {}, number(r.bird_errors));
    auto drained =
        family("lb_bgp_node_drained",
               "1 while lbctl drain-node (or a shutdown) withdraws every VIP", MetricType::Gauge);
    add(drained, {}, r.drained || r.shutting_down ? 1 : 0);
    for (auto* f : {&announced, &session, &reconfigurations, &errors, &drained})
        out.push_back(std::move(*f));
}

} // namespace lb::control::report::metrics
