#include "control/config_model.hpp"

#include <fmt/format.h>

#include "control/diagnostic.hpp"

namespace lb::config {

const char* to_string(Protocol p) {
    return p == Protocol::tcp ? "tcp" : "udp";
}

const char* to_string(Scheduler s) {
    switch (s) {
    case Scheduler::rr:
        return "rr";
    case Scheduler::wrr:
        return "wrr";
    case Scheduler::lc:
        return "lc";
    case Scheduler::wlc:
        return "wlc";
    case Scheduler::sh:
        return "sh";
    case Scheduler::mh:
        return "mh";
    }
    return "?";
}

const char* to_string(Forwarding f) {
    return f == Forwarding::nat ? "nat" : "dr";
}

const Interface* Config::find_interface(const std::string& name) const {
    for (const auto& i : interfaces)
        if (i.name == name)
            return &i;
    return nullptr;
}

const Interface* Config::egress_for(const RealServer& rs) const {
    if (rs.interface)
        return find_interface(*rs.interface);
    for (const auto& i : interfaces)
        if (i.holds(rs.address))
            return &i;
    for (const auto& i : interfaces)
        if (i.gateway)
            return &i;
    return nullptr;
}

std::string format_diagnostic(const std::string& file, const Diagnostic& d) {
    return fmt::format("{}:{}:{}: {}", file, d.location.line, d.location.column, d.message);
}

} // namespace lb::config
