// The replication epoch (modules/replication/epoch_store.hpp): it grows across restarts whatever
// the wall clock does, and a file that cannot be written leaves the clock in charge, said in
// words.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <fstream>
#include <string>

#include "modules/replication/epoch_store.hpp"
#include "test/temp_dir.hpp"

using lb::control::replication::next_epoch;

using lb::test::TempDir;

TEST_CASE("epoch store: each start takes a larger epoch, even when the clock steps back") {
    TempDir dir("lb-epoch");
    const std::string file = (dir.path / "replication-epoch").string();
    const auto first = next_epoch(file, 5'000'000);
    CHECK_FALSE(first.warning);
    CHECK(first.epoch == 5'000'000);
    // The clock stepped back an hour: the file still makes the next run the newer one.
    const auto second = next_epoch(file, 5'000'000 - 3'600'000'000ULL / 1000);
    CHECK(second.epoch == 5'000'001);
    // The clock ahead again: it wins.
    CHECK(next_epoch(file, 9'000'000).epoch == 9'000'000);
    std::ifstream f(file);
    std::uint64_t stored = 0;
    f >> stored;
    CHECK(stored == 9'000'000);
}

TEST_CASE("epoch store: an unwritable file leaves the wall clock in charge, with a warning") {
    const auto c = next_epoch("/nonexistent/lb/replication-epoch", 123);
    CHECK(c.epoch == 123);
    REQUIRE(c.warning);
    CHECK_THAT(*c.warning, Catch::Contains("/nonexistent/lb/replication-epoch.tmp") &&
                               Catch::Contains("wall clock"));
}

TEST_CASE("epoch store: a file that does not hold a number is replaced") {
    TempDir dir("lb-epoch");
    const std::string file = (dir.path / "replication-epoch").string();
    std::ofstream(file) << "garbage\n";
    const auto c = next_epoch(file, 77);
    CHECK(c.epoch == 77);
    CHECK_FALSE(c.warning);
}
