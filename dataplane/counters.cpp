#include "dataplane/counters.hpp"

namespace lb::dataplane {

const char* drop_reason_name(DropReason r) {
    switch (r) {
    case DropReason::truncated:
        return "truncated";
    case DropReason::bad_ip_header:
        return "bad_ip_header";
    case DropReason::fragment:
        return "fragment";
    case DropReason::bad_l4_header:
        return "bad_l4_header";
    case DropReason::not_ip:
        return "not_ip";
    case DropReason::ipv6_routing_header:
        return "ipv6_routing_header";
    case DropReason::ipv6_not_enabled:
        return "ipv6_not_enabled";
    case DropReason::arp_ignored:
        return "arp_ignored";
    case DropReason::icmp_ignored:
        return "icmp_ignored";
    case DropReason::to_node:
        return "to_node";
    case DropReason::no_service:
        return "no_service";
    case DropReason::no_connection:
        return "no_connection";
    case DropReason::no_real_server:
        return "no_real_server";
    case DropReason::no_persistence_template:
        return "no_persistence_template";
    case DropReason::table_full:
        return "table_full";
    case DropReason::template_table_full:
        return "template_table_full";
    case DropReason::nat_tuple_conflict:
        return "nat_tuple_conflict";
    case DropReason::neighbour_unresolved:
        return "neighbour_unresolved";
    case DropReason::tx_full:
        return "tx_full";
    case DropReason::not_master:
        return "not_master";
    case DropReason::control_ring_full:
        return "control_ring_full";
    case DropReason::vrrp_not_configured:
        return "vrrp_not_configured";
    case DropReason::too_big_for_tunnel:
        return "too_big_for_tunnel";
    case DropReason::too_big_for_tunnel_no_df:
        return "too_big_for_tunnel_no_df";
    case DropReason::no_headroom:
        return "no_headroom";
    case DropReason::count_:
        break;
    }
    return "unknown";
}

} // namespace lb::dataplane
