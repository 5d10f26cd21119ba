// A fresh directory under the temporary folder, removed with everything in it at the end of the
// test: what the tests of files lb reads and writes (configuration, epoch, drained flag) share.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace lb::test {

struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const char* prefix = "lb-test") {
        std::string pattern =
            (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
        path = ::mkdtemp(pattern.data());
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

} // namespace lb::test
