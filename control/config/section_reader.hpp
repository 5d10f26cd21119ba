// The section readers' common tool: walks a YAML tree, converts values and records every problem
// it meets with its location, so that `lb --check` reports them all at once. The top level
// (control/config/loader.cpp) and each feature module's reader (modules/*/config_section.cpp) use
// it.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "control/config/diagnostic.hpp"
#include "control/config/ip_address.hpp"
#include "control/config/limits.hpp"
#include "control/config/value_parsers.hpp"
#include "control/config/yaml_structure.hpp"

namespace lb::control::config {

inline Location location_of(const YAML::Node& n) {
    return config::location_of(n.Mark());
}

// Walks the YAML tree, converting values and recording every problem it meets.
class Reader {
  public:
    explicit Reader(Diagnostics& out) : out_(out) {}

    void error(const YAML::Node& at, std::string message) {
        out_.push_back({location_of(at), std::move(message)});
    }
    void error(Location at, std::string message) { out_.push_back({at, std::move(message)}); }

    bool expect_map(const YAML::Node& n, const char* what) {
        if (n.IsMap())
            return true;
        error(n, fmt::format("{} must be a mapping", what));
        return false;
    }

    // Unknown keys are errors: a misspelt `persistance:` must not be silently ignored.
    void check_keys(const YAML::Node& map, const char* what,
                    std::initializer_list<const char*> allowed) {
        check_keys(map, what, std::span<const char* const>(allowed.begin(), allowed.size()));
    }
    void check_keys(const YAML::Node& map, const char* what, std::span<const char* const> allowed) {
        for (const auto& kv : map) {
            const auto key = kv.first.as<std::string>("");
            bool known = std::any_of(allowed.begin(), allowed.end(),
                                     [&](const char* a) { return key == a; });
            if (!known) {
                std::string list;
                for (const char* a : allowed)
                    list += (list.empty() ? "" : ", ") + std::string(a);
                error(kv.first,
                      fmt::format("unknown key '{}' in {} (expected one of: {})", key, what, list));
            }
        }
    }

    std::optional<std::string> scalar(const YAML::Node& n, const char* what) {
        if (!n.IsScalar()) {
            error(n, fmt::format("{} must be a single value", what));
            return std::nullopt;
        }
        return n.Scalar();
    }

    std::optional<std::string> required_string(const YAML::Node& map, const char* key,
                                               const char* what) {
        const YAML::Node n = map[key];
        if (!n) {
            error(map, fmt::format("{} needs '{}'", what, key));
            return std::nullopt;
        }
        auto s = scalar(n, key);
        if (s && s->empty()) {
            error(n, fmt::format("'{}' must not be empty", key));
            return std::nullopt;
        }
        return s;
    }

    // A name: required, and short enough to print in a line of lbctl or a metric label.
    std::optional<std::string> name(const YAML::Node& map, const char* what) {
        auto s = required_string(map, "name", what);
        if (s && s->size() > max_name_bytes) {
            error(map["name"],
                  fmt::format("name: {} bytes; a name has at most {}", s->size(), max_name_bytes));
            return std::nullopt;
        }
        return s;
    }

    template <typename Parse>
    auto parsed(const YAML::Node& n, const char* what, Parse parse)
        -> decltype(parse(std::string_view{}, std::declval<std::string&>())) {
        auto s = scalar(n, what);
        if (!s)
            return std::nullopt;
        std::string message;
        auto v = parse(*s, message);
        if (!v)
            error(n, fmt::format("{}: {}", what, message));
        return v;
    }

    // An address of either family that names one host (ip_address.hpp, unicast_address_error);
    // `link_local_ok` for a next hop.
    std::optional<IpAddress> ip_address(const YAML::Node& n, const char* what,
                                        bool link_local_ok = false) {
        const auto a = parsed(n, what, parse_ip_address);
        if (!a)
            return std::nullopt;
        if (const auto why = unicast_address_error(*a, link_local_ok)) {
            error(n, fmt::format("{}: {}", what, *why));
            return std::nullopt;
        }
        return a;
    }

    std::optional<std::uint64_t> unsigned_value(const YAML::Node& n, const char* what,
                                                std::uint64_t min, std::uint64_t max) {
        auto v = parsed(n, what, [max](std::string_view t, std::string& e) {
            return parse_unsigned(t, max, e);
        });
        if (v && *v < min) {
            error(n, fmt::format("{}: {} is out of range ({}..{})", what, *v, min, max));
            return std::nullopt;
        }
        return v;
    }

    std::optional<bool> boolean(const YAML::Node& n, const char* what) {
        auto s = scalar(n, what);
        if (!s)
            return std::nullopt;
        if (*s == "true" || *s == "yes" || *s == "on")
            return true;
        if (*s == "false" || *s == "no" || *s == "off")
            return false;
        error(n, fmt::format("{}: '{}' is not a boolean (true or false)", what, *s));
        return std::nullopt;
    }

    template <typename Enum>
    std::optional<Enum> choice(const YAML::Node& n, const char* what,
                               std::initializer_list<std::pair<const char*, Enum>> options) {
        auto s = scalar(n, what);
        if (!s)
            return std::nullopt;
        std::string list;
        for (const auto& [name, value] : options) {
            if (*s == name)
                return value;
            list += (list.empty() ? "" : ", ") + std::string(name);
        }
        error(n, fmt::format("{}: '{}' is not one of {}", what, *s, list));
        return std::nullopt;
    }

  private:
    Diagnostics& out_;
};

} // namespace lb::control::config
