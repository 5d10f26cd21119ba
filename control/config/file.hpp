// Reads a configuration file's bytes, refusing what is not a regular file or is too large before
// reading it: a FIFO or a device must never block `lb --check` or a reload, and a huge file must
// not cost minutes and gigabytes to reject.
#pragma once

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

// The whole content of `path`. Throws ConfigFileError for a missing or unreadable path, anything
// but a regular file, and a file over `max_config_bytes`.
std::string read_config_file(const std::string& path);

} // namespace lb::control::config
