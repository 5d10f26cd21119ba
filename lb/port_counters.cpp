#include "lb/port_counters.hpp"

#include <rte_ethdev.h>

#include "dataplane/snapshot.hpp"

namespace lb::app {

namespace {

DeviceCounters read_device(std::uint16_t port) {
    rte_eth_stats s{};
    if (rte_eth_stats_get(port, &s) != 0)
        return {};
    return {s.ipackets, s.imissed, s.ierrors, s.rx_nombuf, s.opackets, s.oerrors};
}

} // namespace

std::vector<InterfaceCounters>
read_interface_counters(const control::config::Config& config,
                        const std::vector<control::PortBinding>& ports) {
    std::vector<InterfaceCounters> out;
    for (std::size_t i = 0; i < config.interfaces.size() && i < ports.size(); ++i) {
        InterfaceCounters c;
        c.name = config.interfaces[i].name;
        c.device = config.interfaces[i].device;
        c.data = read_device(ports[i].port_id);
        if (ports[i].kernel_port != dataplane::no_port) {
            c.has_kernel_path = true;
            c.kernel_path = read_device(ports[i].kernel_port);
        }
        out.push_back(std::move(c));
    }
    return out;
}

} // namespace lb::app
