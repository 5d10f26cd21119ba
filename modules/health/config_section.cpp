#include "modules/health/config_section.hpp"

#include <stdexcept>

#include <fmt/format.h>

namespace lb::control::config {

// Reads a health_check mapping on top of `base` (the service's, for a server's override).
HealthCheck read_health_check(Reader& r, const YAML::Node& n, HealthCheck base) {
    base.location = location_of(n);
    if (!r.expect_map(n, "health_check"))
        return base;
    r.check_keys(n, "health_check",
                 {"type", "interval", "timeout", "warmup", "rise", "fall", "port", "method", "path",
                  "host", "expect_status", "body_regex", "send", "expect", "expect_regex",
                  "command"});
    if (const auto v = n["type"])
        if (auto t = r.choice<HealthCheck::Type>(v, "type",
                                                 {{"tcp", HealthCheck::Type::tcp},
                                                  {"http", HealthCheck::Type::http},
                                                  {"send_expect", HealthCheck::Type::send_expect},
                                                  {"udp", HealthCheck::Type::udp},
                                                  {"exec", HealthCheck::Type::exec}}))
            base.type = *t;
    auto duration = [&](const char* key, Milliseconds& into, bool allow_zero) {
        if (const auto v = n[key])
            if (auto d = r.parsed(v, key, parse_duration)) {
                if (!allow_zero && d->count() < 10)
                    r.error(v, fmt::format("{}: at least 10ms", key));
                into = *d;
            }
    };
    duration("interval", base.interval, false);
    duration("timeout", base.timeout, false);
    duration("warmup", base.warmup, true);
    if (const auto v = n["rise"])
        if (auto x = r.unsigned_value(v, "rise", 1, 100))
            base.rise = static_cast<unsigned>(*x);
    if (const auto v = n["fall"])
        if (auto x = r.unsigned_value(v, "fall", 1, 100))
            base.fall = static_cast<unsigned>(*x);
    if (const auto v = n["port"])
        if (auto x = r.unsigned_value(v, "port", 1, 65535))
            base.port = static_cast<std::uint16_t>(*x);
    auto text = [&](const char* key, std::string& into) {
        if (const auto v = n[key])
            if (auto t = r.scalar(v, key))
                into = *t;
    };
    text("method", base.method);
    text("path", base.path);
    text("host", base.host);
    text("send", base.send);
    text("expect", base.expect);
    text("command", base.command);
    if (const auto v = n["expect_status"]) {
        if (!v.IsSequence() || v.size() == 0) {
            r.error(v, "expect_status must be a list of codes and ranges, e.g. [200, \"300-399\"]");
        } else {
            base.expect_status.clear();
            for (const auto& item : v) {
                auto range = r.parsed(item, "expect_status entry", parse_port_range);
                if (range && (range->first < 100 || range->second > 599))
                    r.error(item, "expect_status: HTTP codes are 100..599");
                else if (range)
                    base.expect_status.push_back({range->first, range->second});
            }
        }
    }
    // Compiled here, once: every check of every server sharing the pattern uses this one.
    auto regex = [&](const char* key, Regex& into) {
        if (const auto v = n[key])
            if (auto t = r.scalar(v, key)) {
                try {
                    into = Regex(*t);
                } catch (const std::invalid_argument& e) {
                    r.error(v, fmt::format("{}: {}", key, e.what()));
                }
            }
    };
    regex("body_regex", base.body_regex);
    regex("expect_regex", base.expect_regex);
    if (base.type == HealthCheck::Type::exec && base.command.empty())
        r.error(n, "health_check: type exec needs 'command'");
    if ((base.type == HealthCheck::Type::udp) && base.send.empty())
        r.error(n, "health_check: type udp needs 'send'");
    if (base.timeout > base.interval)
        r.error(n, "health_check: timeout must not exceed interval");
    return base;
}

} // namespace lb::control::config
