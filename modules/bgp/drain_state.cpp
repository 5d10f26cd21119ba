#include "modules/bgp/drain_state.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "control/state_file.hpp"

namespace lb::control::bgp {

namespace {

constexpr std::string_view since_key = "drained_since_unix_ms ";

} // namespace

std::string drain_state_text(WallClock::time_point since) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(since.time_since_epoch()).count();
    // The comment is for whoever finds the file; lb reads the number only.
    return fmt::format("# lb: this node is drained (lbctl drain-node): it announces no VIP over "
                       "BGP while this file\n# exists, also after a restart. 'lbctl drain-node "
                       "--undo' announces again and removes it.\n{}{}\n",
                       since_key, ms);
}

std::optional<WallClock::time_point> parse_drain_state_text(std::string_view text) {
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t end = std::min(text.find('\n', at), text.size());
        const std::string_view line = text.substr(at, end - at);
        at = end + 1;
        if (!line.starts_with(since_key))
            continue;
        const std::string_view number = line.substr(since_key.size());
        std::int64_t ms = 0;
        const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), ms);
        if (ec != std::errc() || ptr != number.data() + number.size() || ms < 0)
            return std::nullopt;
        return WallClock::time_point(std::chrono::milliseconds(ms));
    }
    return std::nullopt;
}

DrainState read_drain_state(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return {}; // never drained here (or undone)
        return {true, std::nullopt,
                fmt::format("cannot tell whether {} exists: {}", path, std::strerror(errno))};
    }
    std::ifstream f(path);
    if (!f)
        return {true, std::nullopt, fmt::format("cannot read {}: {}", path, std::strerror(errno))};
    const std::string text{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    if (auto since = parse_drain_state_text(text))
        return {true, since, std::nullopt};
    return {true, std::nullopt,
            fmt::format("{} holds no '{}' line: since when is not known", path,
                        since_key.substr(0, since_key.size() - 1))};
}

void write_drain_state(const std::string& path, bool drained, WallClock::time_point since) {
    const auto problem =
        drained ? write_state_file(path, drain_state_text(since)) : remove_state_file(path);
    if (problem)
        throw DrainStateError(*problem);
}

} // namespace lb::control::bgp
