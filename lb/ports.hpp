// Brings up one DPDK port per configured interface with one RX/TX queue pair per worker.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/config/model.hpp"
#include "control/snapshot_builder.hpp"

struct rte_mempool;

namespace lb::app {

// Throws std::runtime_error with a message naming the interface and what to change.
std::vector<control::PortBinding> start_ports(const control::config::Config& config,
                                              unsigned workers, rte_mempool* pool);
void stop_ports(const std::vector<control::PortBinding>& ports);

// "02:00:00:00:00:01": how logs and the tap's devargs write a MAC.
std::string mac_text(const rte_ether_addr& mac);

} // namespace lb::app
