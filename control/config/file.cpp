#include "control/config/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

namespace lb::control::config {

namespace {

const char* file_type(mode_t mode) {
    if (S_ISDIR(mode))
        return "is a directory";
    if (S_ISFIFO(mode))
        return "not a regular file (FIFO)";
    if (S_ISCHR(mode))
        return "not a regular file (character device)";
    if (S_ISBLK(mode))
        return "not a regular file (block device)";
    if (S_ISSOCK(mode))
        return "not a regular file (socket)";
    return "not a regular file";
}

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
    throw ConfigFileError(fmt::format("cannot read {}: {}", path, reason));
}

// Closes the descriptor on every way out.
struct Descriptor {
    int fd;
    ~Descriptor() {
        if (fd >= 0)
            ::close(fd);
    }
};

} // namespace

std::string read_config_file(const std::string& path) {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    // O_NOCTTY: a terminal given as the configuration must not become our controlling one.
    Descriptor file{::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)};
    if (file.fd < 0) {
        const int error = errno;
        // A socket cannot be opened (ENXIO): say what it is rather than "No such device".
        struct stat st {};
        if (error == ENXIO && ::stat(path.c_str(), &st) == 0)
            fail(path, file_type(st.st_mode));
        fail(path, std::strerror(error));
    }
    struct stat st {};
    if (::fstat(file.fd, &st) != 0)
        fail(path, std::strerror(errno));
    if (!S_ISREG(st.st_mode))
        fail(path, file_type(st.st_mode));
    auto too_large = [&](std::uint64_t size) {
        fail(path, fmt::format("{} bytes, over the {} MiB limit for a configuration file", size,
                               max_config_bytes / (1024 * 1024)));
    };
    if (static_cast<std::uint64_t>(st.st_size) > max_config_bytes)
        too_large(static_cast<std::uint64_t>(st.st_size));
    // Read up to one byte past the limit: the file may have grown since fstat.
    std::string text;
    std::size_t used = 0;
    for (;;) {
        if (used == text.size()) {
            if (used > max_config_bytes)
                break;
            text.resize(std::min(max_config_bytes + 1,
                                 std::max(used * 2, static_cast<std::size_t>(st.st_size) + 1)));
        }
        const ssize_t n = ::read(file.fd, text.data() + used, text.size() - used);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail(path, std::strerror(errno));
        }
        used += static_cast<std::size_t>(n);
    }
    if (used > max_config_bytes)
        too_large(used);
    text.resize(used);
    return text;
}

} // namespace lb::control::config
