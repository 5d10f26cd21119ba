// Turns a validated Config into the Snapshot the workers read: interfaces bound to DPDK ports,
// services with their real servers in one flat array, the service index with port ranges
// expanded, Maglev tables, and next hops interned in the neighbour table.
#pragma once

#include <memory>
#include <vector>

#include <rte_ether.h>

#include "control/config/model.hpp"
#include "control/identity_registry.hpp"
#include "dataplane/neighbour_table.hpp"
#include "dataplane/snapshot.hpp"
#include "modules/health/monitor.hpp"

namespace lb::control {

struct PortBinding {
    std::uint16_t port_id = 0;
    rte_ether_addr mac{};
    // The interface's kernel exception path (a net_tap port), or dataplane::no_port.
    std::uint16_t kernel_port = 0xffff;
};

// `ports[i]` is the DPDK port of config.interfaces[i]. Services and real servers get their
// numbers from `registry`; those of `previous` (the snapshot being replaced, if any) that the
// configuration no longer has are kept, inactive and removed, for their draining connections.
// Servers in `down` (failing health checks) take no new connections: weight 0 in the snapshot,
// and only their own Maglev slots move.
// Throws std::runtime_error when the configuration exceeds a dataplane limit.
std::unique_ptr<dataplane::Snapshot>
build_snapshot(const config::Config& config, const std::vector<PortBinding>& ports,
               dataplane::NeighbourTable& neighbours, IdentityRegistry& registry,
               const dataplane::Snapshot* previous, std::uint64_t generation,
               const health::DownSet* down = nullptr);

// The identity-registry key under which a service's sorry server is numbered.
std::string sorry_key(const std::string& service);

} // namespace lb::control
