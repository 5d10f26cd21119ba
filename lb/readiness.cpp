#include "lb/readiness.hpp"

#include <fmt/format.h>
#include <rte_ethdev.h>

namespace lb::app {

ReadinessWatch::ReadinessWatch(Balancer& balancer)
    : balancer_(balancer), started_(std::chrono::steady_clock::now()) {}

// The workers count every pass over their queues, busy or idle; a worker with neither has not
// reached its loop yet (launched lcores start asynchronously).
std::optional<std::string> ReadinessWatch::idle_worker() const {
    const auto counters = balancer_.dataplane().counters();
    for (std::size_t i = 0; i < counters.size(); ++i)
        if (counters[i]->busy_polls.read() + counters[i]->idle_polls.read() == 0)
            return fmt::format("worker {} has not polled yet", i);
    return std::nullopt;
}

std::string ReadinessWatch::links_down() const {
    std::string down;
    const auto& interfaces = balancer_.config().interfaces;
    for (std::size_t i = 0; i < balancer_.ports().size() && i < interfaces.size(); ++i) {
        rte_eth_link link{};
        if (rte_eth_link_get_nowait(balancer_.ports()[i].port_id, &link) == 0 &&
            link.link_status == RTE_ETH_LINK_UP)
            continue;
        down += (down.empty() ? "" : ", ") + interfaces[i].name;
    }
    return down;
}

Readiness ReadinessWatch::check() const {
    if (auto waiting = idle_worker())
        return {false, "waiting: " + *waiting, ""};
    const std::string down = links_down();
    const std::string serving =
        fmt::format("forwarding with {} worker(s), {} service(s)", balancer_.config().dpdk.workers,
                    balancer_.config().services.size());
    if (down.empty())
        return {true, serving, ""};
    if (std::chrono::steady_clock::now() - started_ < link_grace)
        return {false, "waiting for link up on " + down, ""};
    return {true, serving + "; link down on " + down,
            fmt::format("link still down on {} after {} s; ready anyway (check the cable and the "
                        "switch port)",
                        down, link_grace.count())};
}

} // namespace lb::app
