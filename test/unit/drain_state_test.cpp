// The drained flag's file (modules/bgp/drain_state.hpp) and the durable write under it
// (control/state_file.hpp): a drained node stays drained across a restart, an undrained one
// does not come back drained, a file that is there but unreadable still drains (with a
// warning), and a file that cannot be written is said in words naming it and the reason.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "control/state_file.hpp"
#include "modules/bgp/drain_state.hpp"
#include "test/temp_dir.hpp"

using namespace lb::control;
using bgp::WallClock;

using lb::test::TempDir;

namespace {

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

std::string contents(const std::string& path) {
    std::ifstream f(path);
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

const WallClock::time_point when{std::chrono::milliseconds(1'714'564'800'123)};

} // namespace

TEST_CASE("state file: written whole, replaced whole, removed; no temporary left", "[bgp]") {
    TempDir dir("lb-drain");
    const std::string file = (dir.path / "state").string();
    CHECK_FALSE(write_state_file(file, "one\n"));
    CHECK(contents(file) == "one\n");
    CHECK_FALSE(write_state_file(file, "two\n"));
    CHECK(contents(file) == "two\n");
    CHECK_FALSE(exists(file + ".tmp"));
    CHECK_FALSE(remove_state_file(file));
    CHECK_FALSE(exists(file));
    CHECK_FALSE(remove_state_file(file)); // already gone: nothing to do
}

TEST_CASE("state file: a folder that is not there is said, with the file and the reason", "[bgp]") {
    const auto problem = write_state_file("/nonexistent/lb/state", "x\n");
    REQUIRE(problem);
    CHECK_THAT(*problem, Catch::Contains("/nonexistent/lb/state.tmp") &&
                             Catch::Contains("No such file or directory"));
}

TEST_CASE("drain state: a node never drained is not; drained is kept with its moment; undo "
          "removes it",
          "[bgp]") {
    TempDir dir("lb-drain");
    const std::string file = (dir.path / "node-drained").string();
    auto s = bgp::read_drain_state(file);
    CHECK_FALSE(s.drained);
    CHECK_FALSE(s.warning);

    bgp::write_drain_state(file, true, when);
    s = bgp::read_drain_state(file); // what the next start reads
    CHECK(s.drained);
    REQUIRE(s.since);
    CHECK(*s.since == when);
    CHECK_FALSE(s.warning);
    // Whoever finds the file learns what it does and how to undo it.
    CHECK_THAT(contents(file), Catch::Contains("lbctl drain-node --undo"));

    bgp::write_drain_state(file, false, when);
    CHECK_FALSE(exists(file));
    CHECK_FALSE(bgp::read_drain_state(file).drained);
}

TEST_CASE("drain state: a file there but not understood still drains, with a warning", "[bgp]") {
    TempDir dir("lb-drain");
    const std::string file = (dir.path / "node-drained").string();
    std::ofstream(file) << "garbage\n";
    const auto s = bgp::read_drain_state(file);
    CHECK(s.drained);
    CHECK_FALSE(s.since);
    REQUIRE(s.warning);
    CHECK_THAT(*s.warning, Catch::Contains(file) && Catch::Contains("since when is not known"));
}

TEST_CASE("drain state: the text is read back, and only a whole number is a moment", "[bgp]") {
    CHECK(bgp::parse_drain_state_text(bgp::drain_state_text(when)) == when);
    CHECK(bgp::parse_drain_state_text("drained_since_unix_ms 12\n") ==
          WallClock::time_point(std::chrono::milliseconds(12)));
    CHECK_FALSE(bgp::parse_drain_state_text("drained_since_unix_ms 12x\n"));
    CHECK_FALSE(bgp::parse_drain_state_text("drained_since_unix_ms -5\n"));
    CHECK_FALSE(bgp::parse_drain_state_text("drained_since_unix_ms \n"));
    CHECK_FALSE(bgp::parse_drain_state_text(""));
}

TEST_CASE("drain state: a file that cannot be written throws, naming it and the reason", "[bgp]") {
    const std::string file = "/nonexistent/lb/node-drained";
    CHECK_THROWS_WITH(bgp::write_drain_state(file, true, when),
                      Catch::Contains(file + ".tmp") &&
                          Catch::Contains("No such file or directory"));
    // Undoing where there is no file is no failure: the next start is not drained either way.
    CHECK_NOTHROW(bgp::write_drain_state(file, false, when));
}
