// Keeps the MAC addresses of next hops fresh: sends ARP requests for every entry of the
// neighbour table, often while unresolved and every `refresh` once resolved. The frames are
// handed to worker 0 through the control ring, since only workers own transmit queues.
#pragma once

#include <cstdint>

#include "dataplane/dataplane_context.hpp"

struct rte_mempool;

namespace lb::control {

class NeighbourResolver {
  public:
    NeighbourResolver(dataplane::DataplaneContext& context, rte_mempool* pool)
        : ctx_(context), pool_(pool) {}

    // Call periodically (every ~100 ms).
    void tick(std::uint32_t now_ms);

    static constexpr std::uint32_t unresolved_interval_ms = 200;
    static constexpr std::uint32_t refresh_interval_ms = 5000;

  private:
    void send_request(const dataplane::Snapshot& s, const dataplane::Neighbour& n);

    dataplane::DataplaneContext& ctx_;
    rte_mempool* pool_;
    std::uint32_t last_sent_[dataplane::NeighbourTable::max_entries] = {};
    bool ever_sent_[dataplane::NeighbourTable::max_entries] = {};
};

} // namespace lb::control
