#include "control/config/key_file.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "control/config/file.hpp"

namespace lb::control::config {

namespace {

struct Loaded {
    std::vector<std::uint8_t> key;
    std::optional<std::string> problem;
};

Loaded load(const std::string& path) {
    Loaded out;
    // stat first: a FIFO is refused before anything opens it, and the mode is the secret's
    // first rule. The bytes come from the configuration's own file reader.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        out.problem = fmt::format("cannot read {}: {}", path, std::strerror(errno));
        return out;
    }
    if (!S_ISREG(st.st_mode)) {
        out.problem = fmt::format("{} is not a regular file", path);
        return out;
    }
    if ((st.st_mode & 077) != 0) {
        out.problem = fmt::format("{} may be read or written by group or others (mode {:04o}); "
                                  "a shared secret must not be: chmod 600 {}",
                                  path, st.st_mode & 07777, path);
        return out;
    }
    if (static_cast<std::size_t>(st.st_size) > max_replication_key_bytes) {
        out.problem = fmt::format("{} has {} bytes; a replication key is at most {}", path,
                                  st.st_size, max_replication_key_bytes);
        return out;
    }
    std::string text;
    try {
        text = read_config_file(path);
    } catch (const ConfigFileError& e) {
        out.problem = e.what();
        return out;
    }
    out.key.assign(text.begin(), text.end());
    if (!out.key.empty() && out.key.back() == '\n')
        out.key.pop_back();
    if (out.key.size() < min_replication_key_bytes)
        out.problem = fmt::format("{} holds {} bytes; a replication key needs at least {} (e.g. "
                                  "openssl rand -hex 32 > {})",
                                  path, out.key.size(), min_replication_key_bytes, path);
    return out;
}

} // namespace

std::optional<std::string> key_file_problem(const std::string& path) {
    return load(path).problem;
}

std::vector<std::uint8_t> read_key_file(const std::string& path) {
    Loaded l = load(path);
    if (l.problem)
        throw std::runtime_error("replication.key_file: " + *l.problem);
    return std::move(l.key);
}

} // namespace lb::control::config
