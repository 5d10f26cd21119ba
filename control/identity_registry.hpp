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
#include <vector>

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
    // VRRP instances: the dataplane's ownership slots (DataplaneContext::vrrp_master). An
    // instance, known by name, interface and virtual router id, keeps its slot while it is
    // configured. Unlike the numbers above, slots are few and reused, but not by the call that
    // frees them: a removed instance's flag is cleared by the VRRP router after the snapshot that
    // drops it is published (modules/vrrp/driver), so a new instance must not read it before the
    // next call. Returns the slots of `instances`, in order; throws beyond `limit` slots.
    using VrrpKey = std::tuple<std::string, std::string, std::uint8_t>;
    std::vector<std::uint8_t> vrrp_slots(const std::vector<VrrpKey>& instances, std::size_t limit);
    std::optional<std::uint8_t> find_vrrp_slot(const VrrpKey& instance) const;

    std::size_t service_count() const { return services_.size(); }
    std::size_t real_server_count() const { return real_servers_.size(); }

  private:
    std::map<std::string, std::uint16_t> services_;
    std::map<std::tuple<std::string, std::uint32_t, std::uint16_t>, std::uint16_t> real_servers_;
    std::map<VrrpKey, std::uint8_t> vrrp_slots_;
    std::vector<std::uint8_t> vrrp_released_; // by the last vrrp_slots(): not given this time
};

} // namespace lb::control
