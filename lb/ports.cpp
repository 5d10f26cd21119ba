#include "lb/ports.hpp"

#include <cctype>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>
#include <rte_ethdev.h>

namespace lb::app {

namespace {

std::string available_devices() {
    std::string names;
    std::uint16_t port;
    RTE_ETH_FOREACH_DEV(port) {
        char name[RTE_ETH_NAME_MAX_LEN];
        if (rte_eth_dev_get_name_by_port(port, name) == 0)
            names += (names.empty() ? "" : ", ") + std::string(name);
    }
    return names.empty() ? "none" : names;
}

// A PCI address as `device:` names NICs: DDDD:BB:DD.F or BB:DD.F (hexadecimal).
bool is_pci_address(std::string_view name) {
    const auto hex = [&](std::size_t from, std::size_t count) {
        for (std::size_t i = from; i < from + count; ++i)
            if (!std::isxdigit(static_cast<unsigned char>(name[i])))
                return false;
        return true;
    };
    if (name.size() == 12 && name[4] == ':' && hex(0, 4))
        name.remove_prefix(5);
    return name.size() == 7 && name[2] == ':' && name[5] == '.' && hex(0, 2) && hex(3, 2) &&
           hex(6, 1);
}

std::string missing_device(const control::config::Interface& iface) {
    if (is_pci_address(iface.device))
        // No PMD took it: not bound to a DPDK driver, not allowed by -a, or its driver is not
        // installed (DPDK loads NIC drivers as plugins; dpdk only recommends them).
        return fmt::format(
            "interface '{}': no DPDK driver took PCI device {} (devices: {}); bind it to vfio-pci "
            "(lb --check --hardware says how), allow it with -a {} in dpdk.eal_args, and install "
            "its poll-mode driver (librte-net-<driver>23 on Debian 12, e.g. librte-net-ixgbe23)",
            iface.name, iface.device, available_devices(), iface.device);
    return fmt::format("interface '{}': DPDK device '{}' does not exist (devices: {}); add it to "
                       "dpdk.eal_args, e.g. --vdev={},iface=<veth>",
                       iface.name, iface.device, available_devices(), iface.device);
}

control::PortBinding start_port(const control::config::Interface& iface, unsigned workers,
                                rte_mempool* pool) {
    std::uint16_t port = 0;
    if (rte_eth_dev_get_port_by_name(iface.device.c_str(), &port) != 0)
        throw std::runtime_error(missing_device(iface));
    rte_eth_dev_info info{};
    if (int rc = rte_eth_dev_info_get(port, &info); rc != 0)
        throw std::runtime_error(fmt::format("interface '{}': cannot read device info: {}",
                                             iface.name, rte_strerror(-rc)));
    if (info.max_rx_queues < workers || info.max_tx_queues < workers)
        throw std::runtime_error(fmt::format(
            "interface '{}': device '{}' has {} RX / {} TX queues but {} workers need one pair "
            "each (for net_af_packet add qpairs={} to its --vdev)",
            iface.name, iface.device, info.max_rx_queues, info.max_tx_queues, workers, workers));
    rte_eth_conf conf{};
    if (workers > 1 && info.flow_type_rss_offloads != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf =
            (RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
    }
    // A NIC that checks IPv4 header checksums tells the worker so in each mbuf, which then
    // skips its own check (dataplane/packet_parser.cpp); virtual devices mostly cannot.
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM)
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
    const auto q = static_cast<std::uint16_t>(workers);
    if (int rc = rte_eth_dev_configure(port, q, q, &conf); rc != 0)
        throw std::runtime_error(fmt::format("interface '{}': configuring '{}' failed: {}",
                                             iface.name, iface.device, rte_strerror(-rc)));
    std::uint16_t rx_descriptors = 1024;
    std::uint16_t tx_descriptors = 1024;
    rte_eth_dev_adjust_nb_rx_tx_desc(port, &rx_descriptors, &tx_descriptors);
    const int socket = rte_eth_dev_socket_id(port);
    for (std::uint16_t i = 0; i < q; ++i) {
        if (int rc = rte_eth_rx_queue_setup(port, i, rx_descriptors, socket, nullptr, pool);
            rc != 0)
            throw std::runtime_error(
                fmt::format("interface '{}': RX queue {}: {}", iface.name, i, rte_strerror(-rc)));
        if (int rc = rte_eth_tx_queue_setup(port, i, tx_descriptors, socket, nullptr); rc != 0)
            throw std::runtime_error(
                fmt::format("interface '{}': TX queue {}: {}", iface.name, i, rte_strerror(-rc)));
    }
    if (int rc = rte_eth_dev_start(port); rc != 0)
        throw std::runtime_error(fmt::format("interface '{}': starting '{}' failed: {}", iface.name,
                                             iface.device, rte_strerror(-rc)));
    // Promiscuous: frames for the VRRP virtual MAC must reach us too. Some PMDs cannot; those
    // at least pass all multicast, which IPv6 needs (Neighbour Discovery goes to each
    // address's solicited-node group, 33:33:ff:XX:XX:XX).
    if (rte_eth_promiscuous_enable(port) != 0)
        rte_eth_allmulticast_enable(port);
    control::PortBinding binding;
    binding.port_id = port;
    rte_eth_macaddr_get(port, &binding.mac);
    return binding;
}

} // namespace

std::string mac_text(const rte_ether_addr& m) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m.addr_bytes[0],
                       m.addr_bytes[1], m.addr_bytes[2], m.addr_bytes[3], m.addr_bytes[4],
                       m.addr_bytes[5]);
}

std::vector<control::PortBinding> start_ports(const control::config::Config& config,
                                              unsigned workers, rte_mempool* pool) {
    std::vector<control::PortBinding> ports;
    for (const auto& iface : config.interfaces)
        ports.push_back(start_port(iface, workers, pool));
    return ports;
}

void stop_ports(const std::vector<control::PortBinding>& ports) {
    for (const auto& p : ports) {
        rte_eth_dev_stop(p.port_id);
        rte_eth_dev_close(p.port_id);
        if (p.kernel_port != 0xffff) {
            rte_eth_dev_stop(p.kernel_port);
            rte_eth_dev_close(p.kernel_port); // removes the tap from the kernel
        }
    }
}

} // namespace lb::app
