// Expires connections and persistence templates, a slice of each table per tick so that a
// sweep of a large table is spread over about a second, and returns retired entries to
// circulation once the workers have moved past them (RCU).
#pragma once

#include <cstdint>
#include <functional>

#include "dataplane/dataplane_context.hpp"

namespace lb::control::report {

class TableCollector {
  public:
    explicit TableCollector(dataplane::DataplaneContext& context) : ctx_(context) {}

    // `fraction`: the share of each table to visit, as 1/fraction (10 per 100 ms tick sweeps
    // every table once a second).
    void tick(std::uint32_t now_ms, std::uint32_t fraction = 10);
    // Sweeps everything at once (tests, shutdown).
    void sweep_all(std::uint32_t now_ms);

    std::uint64_t expired_connections() const { return expired_connections_; }

    // Told of every connection (and FTP expectation) it removes, with its index: replication
    // sends the deletion to the peer.
    std::function<void(std::uint32_t index, const dataplane::Connection&)> on_expired;

  private:
    dataplane::DataplaneContext& ctx_;
    std::uint32_t connection_cursor_ = 0;
    std::uint32_t template_cursor_ = 0;
    std::uint64_t expired_connections_ = 0;
};

} // namespace lb::control::report
