// Reads a configuration file's bytes, refusing what is not a regular file or is too large before
// reading it: a FIFO or a device must never block `lb --check` or a reload, and a huge file must
// not cost minutes and gigabytes to reject.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

#include "control/config/limits.hpp"

namespace lb::control::config {

// Why a file could not be read; the message names the file and the reason, e.g.
// "cannot read /etc/lb: is a directory".
class ConfigFileError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// A file opened once, with what fstat says of the open descriptor: a rule checked on `status()`
// holds for the bytes `read_at_most` returns, even if the path is replaced in between (checking
// the path, then reading it, is a race). Symbolic links are followed: the rules apply to the
// file read, not to the link.
class OpenedFile {
  public:
    // Never blocks: a FIFO opens at once (and is then not regular). Throws ConfigFileError
    // ("cannot read PATH: reason") when the path cannot be opened.
    explicit OpenedFile(const std::string& path);
    ~OpenedFile();
    OpenedFile(const OpenedFile&) = delete;
    OpenedFile& operator=(const OpenedFile&) = delete;

    const struct stat& status() const { return status_; }
    bool regular() const { return S_ISREG(status_.st_mode); }
    // What the file is when it is not regular, e.g. "is a directory", "not a regular file (FIFO)".
    std::string kind() const;

    // The bytes left to read, or nullopt when there are more than `limit` (the file may have grown
    // since it was opened). Throws ConfigFileError on a read error.
    std::optional<std::string> read_at_most(std::size_t limit);

  private:
    std::string path_;
    int fd_ = -1;
    struct stat status_ {};
};

// The whole content of `path`. Throws ConfigFileError for a missing or unreadable path, anything
// but a regular file, and a file over `max_config_bytes`.
std::string read_config_file(const std::string& path);

} // namespace lb::control::config
