#include "control/state_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

namespace lb::control {

namespace {

// A rename or an unlink is in the folder's data: without this, a power cut may undo it.
std::optional<std::string> sync_folder(const std::string& path) {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    const std::filesystem::path folder = parent.empty() ? std::filesystem::path(".") : parent;
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fmt::format("cannot open {}: {}", folder.string(), std::strerror(errno));
    const bool synced = ::fsync(fd) == 0;
    const int error = errno;
    ::close(fd);
    if (!synced)
        return fmt::format("cannot sync {}: {}", folder.string(), std::strerror(error));
    return std::nullopt;
}

} // namespace

std::optional<std::string> write_state_file(const std::string& path, const std::string& text) {
    const std::string temporary = path + ".tmp";
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fmt::format("cannot write {}: {}", temporary, std::strerror(errno));
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
    return sync_folder(path);
}

std::optional<std::string> remove_state_file(const std::string& path) {
    if (::unlink(path.c_str()) != 0) {
        if (errno == ENOENT)
            return std::nullopt;
        return fmt::format("cannot remove {}: {}", path, std::strerror(errno));
    }
    return sync_folder(path);
}

} // namespace lb::control
