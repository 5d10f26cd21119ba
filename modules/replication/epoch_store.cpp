#include "modules/replication/epoch_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

namespace lb::control::replication {

namespace {

// The last epoch written, or nullopt when the file is missing or does not hold one number.
std::optional<std::uint64_t> read_epoch(const std::string& path) {
    std::ifstream f(path);
    std::uint64_t value = 0;
    if (!(f >> value))
        return std::nullopt;
    return value;
}

std::optional<std::string> write_epoch(const std::string& path, std::uint64_t epoch) {
    const std::string temporary = path + ".tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fmt::format("cannot write {}: {}", temporary, std::strerror(errno));
    const std::string text = fmt::format("{}\n", epoch);
    // Durable before it is used: after a power cut the next start must still see it.
    const bool written =
        ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
        ::fsync(fd) == 0;
    const int error = errno;
    ::close(fd);
    if (!written) {
        ::unlink(temporary.c_str());
        return fmt::format("cannot write {}: {}", temporary, std::strerror(error));
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        const int rename_error = errno;
        ::unlink(temporary.c_str());
        return fmt::format("cannot rename {} to {}: {}", temporary, path,
                           std::strerror(rename_error));
    }
    return std::nullopt;
}

} // namespace

EpochChoice next_epoch(const std::string& path, std::uint64_t wall_clock_us) {
    EpochChoice c;
    const auto last = read_epoch(path);
    c.epoch = std::max(wall_clock_us, last ? *last + 1 : 1);
    if (auto problem = write_epoch(path, c.epoch))
        c.warning = fmt::format("{}; the epoch comes from the wall clock alone, so a clock "
                                "stepped back delays the peer's resync by its peer timeout",
                                *problem);
    return c;
}

} // namespace lb::control::replication
