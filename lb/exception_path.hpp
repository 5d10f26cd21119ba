// The kernel exception path: for each data interface, a net_tap port whose kernel side holds the
// node's address with the DPDK port's MAC (and the gateway as default route). Workers hand the
// node's own traffic to it and send what the kernel sends; control-plane sockets (health
// checks, replication, BGP through BIRD) use the kernel's stack instead of one of our own.
#pragma once

#include <vector>

#include "control/config/model.hpp"
#include "control/snapshot_builder.hpp"

struct rte_mempool;

namespace lb::app {

// Sets `kernel_port` in `ports` for every interface with `kernel: true`. Throws
// std::runtime_error naming the interface when the tap cannot be created or configured.
void start_exception_path(const control::config::Config& config, unsigned workers,
                          rte_mempool* pool, std::vector<control::PortBinding>& ports);

} // namespace lb::app
