// What both nodes of a replicating pair must agree on, as one SHA-256 that travels in every
// hello: the data interfaces in order (entries name the client's interface by position) and
// every service's identity, forwarding, persistence scope and real servers. Names, weights,
// health checks, timeouts and VRRP priorities may differ between the nodes and are left out.
// A mismatch is reported once per change (log, lbctl, metrics); entries still bind one by one,
// and those that do not are counted as unbound.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "control/config/model.hpp"

namespace lb::control::sync {

// The canonical text the digest is taken of (sorted, so file order does not matter); for the
// log when digests differ.
std::string config_identity_text(const config::Config& c);
std::array<std::uint8_t, 32> config_digest(const config::Config& c);

} // namespace lb::control::sync
