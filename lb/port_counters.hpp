// What the devices themselves count, beside what the workers count: frames a receive ring had
// no room for (the device drops them before any worker sees them, so no drop reason of ours
// can count them), receive errors, and frames a transmit queue refused. Read on the control
// side with rte_eth_stats_get; a device that does not count something reports 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/config/model.hpp"
#include "control/snapshot_builder.hpp"

namespace lb::app {

struct DeviceCounters {
    std::uint64_t rx_packets = 0;
    std::uint64_t rx_missed = 0;  // receive ring full: dropped by the device, unclassified
    std::uint64_t rx_errors = 0;  // bad frames
    std::uint64_t rx_no_mbuf = 0; // no buffer in the pool to receive into
    std::uint64_t tx_packets = 0;
    std::uint64_t tx_errors = 0;
};

struct InterfaceCounters {
    std::string name; // the interface's name in the configuration
    std::string device;
    DeviceCounters data;          // its DPDK port
    bool has_kernel_path = false; // the tap of its kernel exception path
    DeviceCounters kernel_path;
};

std::vector<InterfaceCounters>
read_interface_counters(const control::config::Config& config,
                        const std::vector<control::PortBinding>& ports);

} // namespace lb::app
