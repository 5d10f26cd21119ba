// `lbctl vrrp`: each instance's state, priority, master, last transition (when, wall clock and
// monotonic) and why, as a table or JSON (the fields are listed in README, "lbctl vrrp --json").
#pragma once

#include "control/admin_socket.hpp"
#include "control/report/stats_view.hpp"

namespace lb::app {

// `now`: the moment of the answer (its `as_of`, and what "ago" counts from).
control::AdminAnswer vrrp_answer(const control::report::VrrpReport& report, bool json,
                                 const control::report::Moment& now);

} // namespace lb::app
