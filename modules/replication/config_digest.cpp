#include "modules/replication/config_digest.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>
#include <openssl/sha.h>

namespace lb::control::sync {

namespace {

// IPv4 as it always was (8 hex digits), so that nodes of two versions agree on an IPv4-only
// configuration; IPv6 as 32.
std::string digest_address(const config::IpAddress& a) {
    if (a.is_ipv4())
        return fmt::format("{:08x}", a.ipv4());
    std::string out;
    for (const std::uint8_t b : a.bytes)
        out += fmt::format("{:02x}", b);
    return out;
}

std::string service_line(const config::Service& s) {
    std::string line = fmt::format("service {} {} {}", digest_address(s.vip),
                                   static_cast<int>(s.protocol), s.port_group ? "group" : "port");
    for (const auto& r : s.ports)
        line += fmt::format(" {}-{}", r.first, r.last);
    line += fmt::format(" forwarding {}", static_cast<int>(s.forwarding));
    if (s.persistence)
        line += s.vip.is_ipv4() ? fmt::format(" persistence {:08x}", s.persistence->netmask)
                                : fmt::format(" persistence /{}", s.persistence->prefix_length);
    std::vector<std::string> servers;
    for (const auto& rs : s.real_servers)
        servers.push_back(fmt::format("{}:{}", digest_address(rs.address), rs.port.value_or(0)));
    std::sort(servers.begin(), servers.end());
    for (const auto& rs : servers)
        line += " " + rs;
    return line;
}

} // namespace

std::string config_identity_text(const config::Config& c) {
    std::string text;
    for (std::size_t i = 0; i < c.interfaces.size(); ++i)
        text += fmt::format("interface {} {}\n", i, c.interfaces[i].name);
    std::vector<std::string> services;
    for (const auto& s : c.services)
        services.push_back(service_line(s));
    std::sort(services.begin(), services.end());
    for (const auto& s : services)
        text += s + "\n";
    return text;
}

std::array<std::uint8_t, 32> config_digest(const config::Config& c) {
    const std::string text = config_identity_text(c);
    std::array<std::uint8_t, 32> digest{};
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
    return digest;
}

} // namespace lb::control::sync
