#include "control/identity_registry.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "dataplane/counters.hpp"

namespace lb::control {

std::uint16_t IdentityRegistry::service(const std::string& name) {
    if (auto it = services_.find(name); it != services_.end())
        return it->second;
    if (services_.size() == dataplane::max_services)
        throw std::runtime_error(fmt::format("more than {} distinct services since start-up: "
                                             "restart lb to renumber",
                                             dataplane::max_services));
    const auto id = static_cast<std::uint16_t>(services_.size());
    services_.emplace(name, id);
    return id;
}

std::uint16_t IdentityRegistry::real_server(const std::string& service, std::uint32_t address,
                                            std::uint16_t port) {
    const auto key = std::make_tuple(service, address, port);
    if (auto it = real_servers_.find(key); it != real_servers_.end())
        return it->second;
    if (real_servers_.size() == dataplane::max_real_servers)
        throw std::runtime_error(fmt::format("more than {} distinct real servers since start-up: "
                                             "restart lb to renumber",
                                             dataplane::max_real_servers));
    const auto id = static_cast<std::uint16_t>(real_servers_.size());
    real_servers_.emplace(key, id);
    return id;
}

std::optional<std::uint16_t> IdentityRegistry::find_service(const std::string& name) const {
    if (auto it = services_.find(name); it != services_.end())
        return it->second;
    return std::nullopt;
}

std::optional<std::uint16_t> IdentityRegistry::find_real_server(const std::string& service,
                                                                std::uint32_t address,
                                                                std::uint16_t port) const {
    if (auto it = real_servers_.find(std::make_tuple(service, address, port));
        it != real_servers_.end())
        return it->second;
    return std::nullopt;
}

std::vector<std::uint8_t> IdentityRegistry::vrrp_slots(const std::vector<VrrpKey>& instances,
                                                       std::size_t limit) {
    std::map<VrrpKey, std::uint8_t> kept;
    for (const auto& key : instances)
        if (auto it = vrrp_slots_.find(key); it != vrrp_slots_.end())
            kept.insert(*it);
    std::vector<bool> taken(limit, false);
    for (const auto& [key, slot] : kept)
        taken[slot] = true;
    for (const auto slot : vrrp_released_)
        taken[slot] = true;
    std::vector<std::uint8_t> released;
    for (const auto& [key, slot] : vrrp_slots_)
        if (!kept.count(key)) {
            taken[slot] = true;
            released.push_back(slot);
        }
    std::vector<std::uint8_t> slots;
    for (const auto& key : instances) {
        if (auto it = kept.find(key); it != kept.end()) {
            slots.push_back(it->second);
            continue;
        }
        const auto free = std::find(taken.begin(), taken.end(), false);
        if (free == taken.end())
            throw std::runtime_error(fmt::format("at most {} VRRP instances are supported (those "
                                                 "a reload removes count until the next one)",
                                                 limit));
        *free = true;
        const auto slot = static_cast<std::uint8_t>(free - taken.begin());
        kept.emplace(key, slot);
        slots.push_back(slot);
    }
    vrrp_slots_ = std::move(kept);
    vrrp_released_ = std::move(released);
    return slots;
}

std::optional<std::uint8_t> IdentityRegistry::find_vrrp_slot(const VrrpKey& instance) const {
    if (auto it = vrrp_slots_.find(instance); it != vrrp_slots_.end())
        return it->second;
    return std::nullopt;
}

} // namespace lb::control
