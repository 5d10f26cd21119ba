// Ends a failed real server's connections at once (`on_failure: reset`): a TCP RST to each
// client, as from the VIP, and one to the real server, as from the client, then the entries are
// removed. The sequence numbers come from what the client last sent (Connection::client_*),
// so both ends accept them. The frames go out through worker 0 like the ARP requests.
#pragma once

#include <cstdint>

#include "dataplane/dataplane_context.hpp"

struct rte_mempool;

namespace lb::control {

// Returns how many connections were reset.
std::size_t reset_connections_of(dataplane::DataplaneContext& context, rte_mempool* pool,
                                 std::uint16_t real_server);

} // namespace lb::control
