// Stable numbers for services and real servers across configuration reloads. Connections,
// persistence templates, counters and load figures refer to them by number, so a server keeps
// its number as long as it is configured (under the same service name, address and port), and
// a number is never given to anything else while this process lives: a connection to a server
// removed by a reload still finds its entry, marked removed, and drains.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>

namespace lb::control {

class IdentityRegistry {
  public:
    // The number of `name`, given now if new. Throws when the dataplane limit is reached.
    std::uint16_t service(const std::string& name);
    std::uint16_t real_server(const std::string& service, std::uint32_t address,
                              std::uint16_t port);

    std::optional<std::uint16_t> find_service(const std::string& name) const;
    std::optional<std::uint16_t> find_real_server(const std::string& service, std::uint32_t address,
                                                  std::uint16_t port) const;
    std::size_t service_count() const { return services_.size(); }
    std::size_t real_server_count() const { return real_servers_.size(); }

  private:
    std::map<std::string, std::uint16_t> services_;
    std::map<std::tuple<std::string, std::uint32_t, std::uint16_t>, std::uint16_t> real_servers_;
};

} // namespace lb::control
