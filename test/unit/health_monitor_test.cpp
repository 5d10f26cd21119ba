// The health module's driver (modules/health/monitor) on a real event loop with exec checks
// whose verdict a test flips with a file: the first failure takes a server down at once, `rise`
// successes bring it back, each transition is told once, a reload that only retimes a check
// keeps its state while a new check starts afresh, and a server removed is forgotten. The
// checks themselves (tcp, http, send_expect, udp) are exercised end to end (test/e2e/
// test_health.py); here the clock is real but nothing waits on it but the checks' own interval.
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "modules/health/monitor.hpp"
#include "test/temp_dir.hpp"
#include "test/test_config.hpp"

using lb::control::health::HealthMonitor;
using lb::control::health::ServerKey;

namespace {

constexpr std::uint32_t server_a = 0xcb00710b; // 203.0.113.11
constexpr std::uint32_t server_b = 0xcb00710c; // 203.0.113.12

std::string config_yaml(const std::string& flag, const std::string& check_a) {
    return lb::test::web_service_head + R"(    real_servers:
      - address: 203.0.113.11
        health_check: )" +
           check_a + R"(
      - address: 203.0.113.12
        health_check: {type: exec, command: "true", interval: 50ms, timeout: 50ms}
)" +
           "# flag: " + flag + "\n";
}

std::string flag_check(const std::string& flag, const char* interval = "30ms") {
    return std::string("{type: exec, command: \"test -e ") + flag + "\", interval: " + interval +
           ", timeout: " + interval + ", rise: 2, fall: 2}";
}

struct Fixture {
    lb::test::TempDir dir{"lb-health"};
    std::string flag = (dir.path / "up").string();
    boost::asio::io_context io;
    int changes = 0;
    HealthMonitor monitor{io, [this] { ++changes; }};

    // Runs the loop until `done` holds (false after 10 s: the test fails on what it expected).
    bool run_until(const std::function<bool()>& done) {
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!done() && std::chrono::steady_clock::now() < give_up) {
            io.restart();
            io.run_for(std::chrono::milliseconds(5));
        }
        return done();
    }
    void run_for(std::chrono::milliseconds d) {
        io.restart();
        io.run_for(d);
    }
    bool a_down() const { return monitor.down().count(ServerKey{"web", server_a, 0}) > 0; }
    lb::control::health::HealthStatus status_a() const {
        for (const auto& s : monitor.statuses())
            if (std::get<1>(s.server) == server_a)
                return s;
        FAIL("no status for server a");
        return {};
    }
    void raise_flag() { std::ofstream(flag) << "up\n"; }
};

} // namespace

TEST_CASE("health monitor: the first failure downs a server at once, `rise` successes restore") {
    Fixture f;
    f.monitor.configure(lb::test::config_from(config_yaml(f.flag, flag_check(f.flag))));
    // Never checked: up, until the first check says otherwise.
    CHECK_FALSE(f.a_down());
    CHECK_FALSE(f.status_a().checked);
    REQUIRE(f.run_until([&] { return f.a_down(); }));
    CHECK(f.changes == 1);
    CHECK(f.status_a().checked);
    CHECK_FALSE(f.status_a().reason.empty());
    CHECK(f.monitor.down().size() == 1); // the other server's check passes
    CHECK(f.monitor.down().count(ServerKey{"web", server_b, 0}) == 0);
    f.raise_flag();
    REQUIRE(f.run_until([&] { return !f.a_down(); }));
    CHECK(f.changes == 2);
    // `rise` is 2: at least two passing checks after the failures.
    const auto s = f.status_a();
    CHECK(s.checks_total >= s.failures_total + 2);
}

TEST_CASE("health monitor: a reload keeps a retimed check's state and restarts a changed one") {
    Fixture f;
    f.monitor.configure(lb::test::config_from(config_yaml(f.flag, flag_check(f.flag))));
    REQUIRE(f.run_until([&] { return f.a_down(); }));
    const auto checks = f.status_a().checks_total;
    // Only the timing changes: still down, its counts go on.
    f.monitor.configure(lb::test::config_from(config_yaml(f.flag, flag_check(f.flag, "40ms"))));
    CHECK(f.a_down());
    CHECK(f.status_a().checks_total == checks);
    REQUIRE(f.run_until([&] { return f.status_a().checks_total > checks; }));
    CHECK(f.a_down());
    // Another command is another check: up and unchecked until it has run.
    f.monitor.configure(lb::test::config_from(
        config_yaml(f.flag, "{type: exec, command: \"true\", interval: 30ms, timeout: 30ms}")));
    CHECK_FALSE(f.a_down());
    CHECK_FALSE(f.status_a().checked);
    CHECK(f.status_a().checks_total == 0);
    REQUIRE(f.run_until([&] { return f.status_a().checks_total >= 3; }));
    CHECK_FALSE(f.a_down());
}

TEST_CASE("health monitor: a server whose check is removed is forgotten and not checked again") {
    Fixture f;
    f.monitor.configure(lb::test::config_from(config_yaml(f.flag, flag_check(f.flag))));
    REQUIRE(f.run_until([&] { return f.a_down(); }));
    const int changes = f.changes;
    auto without_a = lb::test::config_from(config_yaml(f.flag, flag_check(f.flag)));
    without_a.services[0].real_servers[0].health_check.reset();
    f.monitor.configure(without_a);
    CHECK(f.monitor.down().empty());
    CHECK(f.monitor.statuses().size() == 1);
    // Time passes: the retired check neither runs nor tells of a transition.
    f.run_for(std::chrono::milliseconds(300)); // ten of its intervals
    CHECK(f.changes == changes);
    CHECK(f.monitor.statuses().size() == 1);
}
