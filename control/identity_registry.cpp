#include "control/identity_registry.hpp"

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

} // namespace lb::control
