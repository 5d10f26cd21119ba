// Reading the configuration file: what is not a regular file, cannot be read or is too large is
// refused with the OS's reason, before anything is read (a FIFO must never block).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "control/config/file.hpp"
#include "control/config/loader.hpp"
#include "test/temp_dir.hpp"

using namespace lb::control::config;
namespace fs = std::filesystem;

using lb::test::TempDir;

namespace {

// The one whole-file error of loading `path`, as lb prints it.
std::string load_error(const std::string& path) {
    const LoadResult r = load_config_file(path);
    REQUIRE_FALSE(r.config);
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].location.line == 0);
    const std::string printed = format_diagnostic(path, r.diagnostics[0]);
    CHECK(printed.find(":0:0") == std::string::npos);
    return printed;
}

} // namespace

TEST_CASE("a missing file, a directory and devices are refused with the reason") {
    TempDir dir("lb-config-file");
    const std::string missing = (dir.path / "nope.yaml").string();
    CHECK(load_error(missing) == "cannot read " + missing + ": No such file or directory");
    CHECK(load_error(dir.path.string()) == "cannot read " + dir.path.string() + ": is a directory");
    CHECK(load_error("/dev/null") == "cannot read /dev/null: not a regular file (character "
                                     "device)");
    const std::string below_a_file = (dir.path / "nope.yaml" / "x").string();
    CHECK_THAT(load_error(below_a_file), Catch::Contains("No such file or directory"));
}

TEST_CASE("a FIFO is refused at once, even with no writer") {
    TempDir dir("lb-config-file");
    const std::string fifo = (dir.path / "fifo.yaml").string();
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const auto start = std::chrono::steady_clock::now();
    CHECK(load_error(fifo) == "cannot read " + fifo + ": not a regular file (FIFO)");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

// Checking a path and then reading it would read whatever is there by then: the status and the
// bytes both come from the descriptor opened first.
TEST_CASE("an opened file reads what it was opened on, even if the path is replaced") {
    TempDir dir("lb-config-file");
    const std::string path = (dir.path / "key").string();
    const std::string other = (dir.path / "other").string();
    std::ofstream(path) << "checked";
    std::ofstream(other) << "put in its place";
    OpenedFile file(path);
    REQUIRE(::rename(other.c_str(), path.c_str()) == 0);
    CHECK(file.status().st_size == 7);
    CHECK(file.read_at_most(100) == "checked");
    CHECK_FALSE(OpenedFile(path).read_at_most(15)); // 16 bytes: one too many
    CHECK(OpenedFile(path).read_at_most(16) == "put in its place");
}

TEST_CASE("a file over the size limit is refused before it is read") {
    TempDir dir("lb-config-file");
    const std::string big = (dir.path / "big.yaml").string();
    // 50 MB, sparse: costs no disk and, being refused on its size, no reading either.
    std::ofstream(big).close();
    fs::resize_file(big, 50'000'000);
    const auto start = std::chrono::steady_clock::now();
    CHECK(load_error(big) ==
          "cannot read " + big + ": 50000000 bytes, over the 4 MiB limit for a configuration file");
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(100));
    // Exactly at the limit is read (and then fails as YAML, which is not this test's concern).
    fs::resize_file(big, max_config_bytes);
    CHECK(read_config_file(big).size() == max_config_bytes);
    CHECK_THAT(format_diagnostic(
                   big, load_config_text(std::string(max_config_bytes + 1, ' ')).diagnostics.at(0)),
               Catch::Contains("over the 4 MiB limit"));
}

TEST_CASE("an unreadable file gives the OS's reason") {
    TempDir dir("lb-config-file");
    const std::string secret = (dir.path / "secret.yaml").string();
    std::ofstream(secret) << "node: {name: a}\n";
    REQUIRE(::chmod(secret.c_str(), 0) == 0);
    REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
    if (::geteuid() != 0) {
        CHECK(load_error(secret) == "cannot read " + secret + ": Permission denied");
        return;
    }
    // Root reads anything: look as nobody, in a child so that this process keeps its rights.
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0)
            ::_exit(2);
        const LoadResult r = load_config_file(secret);
        const bool right =
            !r.config && r.diagnostics.size() == 1 &&
            r.diagnostics[0].message == "cannot read " + secret + ": Permission denied";
        ::_exit(right ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
}
