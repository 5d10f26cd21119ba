#include "modules/vrrp/metric_families.hpp"

namespace lb::control::report::metrics {

void add_vrrp_families(Families& out, const StatsView& view) {
    if (!view.vrrp)
        return;
    const auto& vrrp = *view.vrrp;
    auto state = family("lb_vrrp_state", "VRRP instance state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT",
                        MetricType::Gauge);
    auto priority =
        family("lb_vrrp_priority", "VRRP priority in effect, after tracking", MetricType::Gauge);
    auto transitions =
        family("lb_vrrp_transitions_total", "VRRP state changes", MetricType::Counter);
    auto sent =
        family("lb_vrrp_adverts_sent_total", "VRRP advertisements sent", MetricType::Counter);
    auto received = family("lb_vrrp_adverts_received_total", "Valid VRRP advertisements received",
                           MetricType::Counter);
    auto garps = family("lb_vrrp_gratuitous_arps_sent_total",
                        "Gratuitous ARPs sent for the virtual addresses", MetricType::Counter);
    auto held = family("lb_vrrp_sync_group_held",
                       "1 while its sync group holds the instance in BACKUP although its own "
                       "master is gone (a partial partition)",
                       MetricType::Gauge);
    for (const auto& s : vrrp.instances) {
        const Labels labels{{"instance", s.name}};
        add(state, labels, static_cast<double>(s.state));
        add(priority, labels, s.priority);
        add(transitions, labels, number(s.transitions));
        add(sent, labels, number(s.adverts_sent));
        add(received, labels, number(s.adverts_received));
        add(garps, labels, number(s.gratuitous_arps_sent));
        add(held, labels, s.sync_held.empty() ? 0 : 1);
    }
    auto discarded = family("lb_vrrp_adverts_discarded_total",
                            "VRRP advertisements discarded, by reason", MetricType::Counter);
    for (std::size_t d = 0; d < vrrp.discarded.size(); ++d)
        add(discarded,
            {{"reason", control::vrrp::to_string(static_cast<control::vrrp::Discard>(d))}},
            number(vrrp.discarded[d]));
    for (auto* f : {&state, &priority, &transitions, &sent, &received, &garps, &held, &discarded})
        out.push_back(std::move(*f));
}

} // namespace lb::control::report::metrics
