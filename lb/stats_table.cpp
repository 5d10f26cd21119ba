#include "lb/stats_table.hpp"

#include <utility>
#include <vector>

#include <fmt/format.h>

#include "control/printable.hpp"

namespace lb::app {

namespace {

using control::Json;
using Lines = std::vector<std::pair<std::string, std::string>>;

// An array element's name in a path: what identifies it (a service's name, a real server's
// ADDRESS:PORT, a health entry's service and server), else its index.
std::string element_name(const Json& e, std::size_t index) {
    if (!e.is_object())
        return std::to_string(index);
    if (e.contains("name") && e["name"].is_string())
        return e["name"].get<std::string>();
    if (e.contains("service") && e.contains("server"))
        return e["service"].get<std::string>() + "." + e["server"].get<std::string>();
    if (e.contains("server") && e["server"].is_string())
        return e["server"].get<std::string>();
    return std::to_string(index);
}

void flatten(const Json& j, const std::string& path, Lines& out) {
    const auto join = [&](const std::string& key) { return path.empty() ? key : path + "." + key; };
    if (j.is_object()) {
        for (const auto& [key, value] : j.items())
            flatten(value, join(key), out);
    } else if (j.is_array()) {
        for (std::size_t i = 0; i < j.size(); ++i)
            flatten(j[i], join(element_name(j[i], i)), out);
    } else {
        out.emplace_back(path, j.is_string() ? j.get<std::string>() : control::json_text(j));
    }
}

} // namespace

std::string stats_table(const Json& stats) {
    Lines lines;
    flatten(stats, "", lines);
    std::size_t width = 0;
    for (const auto& [path, value] : lines)
        width = std::max(width, path.size());
    std::string out;
    for (const auto& [path, value] : lines)
        out +=
            fmt::format("{:<{}} {}\n", control::printable(path), width, control::printable(value));
    return out;
}

} // namespace lb::app
