// Helpers shared by unit and packet tests: a configuration from YAML text, and a Snapshot built
// from it with made-up port bindings.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "control/config/loader.hpp"
#include "control/snapshot_builder.hpp"

namespace lb::test {

// The top of a small configuration: one interface, and the service "web" on 198.51.100.100:80
// with its keys to follow (real_servers, health_check, ...).
inline const std::string web_service_head = R"(node: {name: x}
interfaces:
  - {name: int, device: d1, address: 203.0.113.1/24}
services:
  - name: web
    vip: 198.51.100.100
    port: 80
)";

inline control::config::Config config_from(const std::string& yaml) {
    auto r = control::config::load_config_text(yaml);
    if (!r.config) {
        std::string all;
        for (const auto& d : r.diagnostics)
            all += control::config::format_diagnostic("test.yaml", d) + "\n";
        throw std::runtime_error("test configuration is invalid:\n" + all);
    }
    return *r.config;
}

// Port i gets MAC 02:00:00:00:00:0i; with `kernel`, a kernel exception path port 10 + i.
inline std::vector<control::PortBinding> fake_ports(std::size_t n, bool kernel = false) {
    std::vector<control::PortBinding> ports(n);
    for (std::size_t i = 0; i < n; ++i) {
        ports[i].port_id = static_cast<std::uint16_t>(i);
        if (kernel)
            ports[i].kernel_port = static_cast<std::uint16_t>(10 + i);
        ports[i].mac = rte_ether_addr{{0x02, 0, 0, 0, 0, static_cast<std::uint8_t>(i + 1)}};
    }
    return ports;
}

inline const char* two_interfaces = R"(node: {name: test}
interfaces:
  - {name: ext, device: d0, address: 198.51.100.2/24}
  - {name: int, device: d1, address: 203.0.113.1/24}
)";

} // namespace lb::test
