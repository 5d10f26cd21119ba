#include "modules/replication/epoch_store.hpp"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

#include "control/state_file.hpp"

namespace lb::control::replication {

using control::write_state_file;

namespace {

// The last epoch written, or nullopt when the file is missing or does not hold one number.
std::optional<std::uint64_t> read_epoch(const std::string& path) {
    std::ifstream f(path);
    std::uint64_t value = 0;
    if (!(f >> value))
        return std::nullopt;
    return value;
}

} // namespace

EpochChoice next_epoch(const std::string& path, std::uint64_t wall_clock_us) {
    EpochChoice c;
    const auto last = read_epoch(path);
    c.epoch = std::max(wall_clock_us, last ? *last + 1 : 1);
    if (auto problem = write_state_file(path, fmt::format("{}\n", c.epoch)))
        c.warning = fmt::format("{}; the epoch comes from the wall clock alone, so a clock "
                                "stepped back delays the peer's resync by its peer timeout",
                                *problem);
    return c;
}

} // namespace lb::control::replication
