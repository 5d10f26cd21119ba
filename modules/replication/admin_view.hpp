// `lbctl replication`: the peer, the link's state, epochs, sequence numbers, queue and the
// counters of what was sent, received, resent, refused and why, as a table or JSON (the fields
// are listed in README, "Failover without losing connections").
#pragma once

#include <optional>

#include "control/admin_socket.hpp"
#include "control/report/stats_view.hpp"

namespace lb::app {

// `report`: nullopt without a replication section. `now`: the moment of the answer (as_of).
control::AdminAnswer
replication_answer(const std::optional<control::report::ReplicationReport>& report, bool json,
                   const control::report::Moment& now);

} // namespace lb::app
