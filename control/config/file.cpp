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

} // namespace

OpenedFile::OpenedFile(const std::string& path) : path_(path) {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    // O_NOCTTY: a terminal given as the configuration must not become our controlling one.
    fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd_ < 0) {
        const int error = errno;
        // A socket cannot be opened (ENXIO): say what it is rather than "No such device".
        struct stat st {};
        if (error == ENXIO && ::stat(path.c_str(), &st) == 0)
            fail(path, file_type(st.st_mode));
        fail(path, std::strerror(error));
    }
    if (::fstat(fd_, &status_) != 0) {
        const int error = errno;
        ::close(fd_);
        fail(path, std::strerror(error));
    }
}

OpenedFile::~OpenedFile() {
    ::close(fd_);
}

std::string OpenedFile::kind() const {
    return file_type(status_.st_mode);
}

std::optional<std::string> OpenedFile::read_at_most(std::size_t limit) {
    // Read up to one byte past the limit: that byte, if it comes, says the file is too large.
    const auto expected = static_cast<std::size_t>(std::max<off_t>(status_.st_size, 0));
    std::string text;
    std::size_t used = 0;
    for (;;) {
        if (used == text.size()) {
            if (used > limit)
                break;
            text.resize(std::min(limit + 1, std::max(used * 2, expected + 1)));
        }
        const ssize_t n = ::read(fd_, text.data() + used, text.size() - used);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail(path_, std::strerror(errno));
        }
        used += static_cast<std::size_t>(n);
    }
    if (used > limit)
        return std::nullopt;
    text.resize(used);
    return text;
}

std::string read_config_file(const std::string& path) {
    OpenedFile file(path);
    if (!file.regular())
        fail(path, file.kind());
    auto too_large = [&](std::uint64_t size) {
        fail(path, fmt::format("{} bytes, over the {} MiB limit for a configuration file", size,
                               max_config_bytes / (1024 * 1024)));
    };
    const auto size = static_cast<std::uint64_t>(file.status().st_size);
    if (size > max_config_bytes)
        too_large(size);
    auto text = file.read_at_most(max_config_bytes);
    if (!text)
        too_large(max_config_bytes + 1); // it grew past the limit while being read
    return std::move(*text);
}

} // namespace lb::control::config
