// `lbctl replication`: the peer, the link's state, epochs, sequence numbers, queue and the
// counters of what was sent, received, resent, refused and why, as a table or JSON (the fields
// are listed in README, "Failover without losing connections").
#pragma once

#include "control/admin_socket.hpp"
#include "lb/balancer.hpp"

namespace lb::app {

control::AdminAnswer replication_answer(const Balancer& balancer, bool json);

} // namespace lb::app
