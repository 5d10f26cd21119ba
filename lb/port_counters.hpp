// What the devices themselves count, beside what the workers count: frames a receive ring had
// no room for (the device drops them before any worker sees them, so no drop reason of ours
// can count them), receive errors, and frames a transmit queue refused. Read on the control
// side with rte_eth_stats_get; a device that does not count something reports 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "control/config/model.hpp"
#include "control/report/stats_view.hpp"
#include "control/snapshot_builder.hpp"

namespace lb::app {

// The structures belong to the statistics view, which renders them (control/stats_view).
using control::report::DeviceCounters;
using control::report::InterfaceCounters;

std::vector<InterfaceCounters>
read_interface_counters(const control::config::Config& config,
                        const std::vector<control::PortBinding>& ports);

} // namespace lb::app
