#include <catch2/catch.hpp>

#include "control/config/loader.hpp"
#include "modules/health/state.hpp"
#include "test/test_config.hpp"

using namespace lb::control::config;
using lb::control::health::HealthState;

TEST_CASE("health: down after `fall` failures in a row, up after `rise` successes") {
    HealthState s(2, 3);
    CHECK(s.up());
    CHECK_FALSE(s.record(true)); // checked once: from now on `fall` applies
    CHECK_FALSE(s.record(false));
    CHECK_FALSE(s.record(false));
    CHECK_FALSE(s.record(true)); // a success in between starts the count again
    CHECK_FALSE(s.record(false));
    CHECK_FALSE(s.record(false));
    CHECK(s.record(false));
    CHECK_FALSE(s.up());
    CHECK_FALSE(s.record(true));
    CHECK_FALSE(s.record(false));
    CHECK_FALSE(s.record(true));
    CHECK(s.record(true));
    CHECK(s.up());
    CHECK(s.failures_total() == 6);
}

TEST_CASE("health: a server never checked is up, and down at its first failed check") {
    HealthState s(2, 3);
    CHECK(s.up());
    CHECK_FALSE(s.checked());
    CHECK(s.record(false)); // not `fall` failures: the first check decides
    CHECK(s.checked());
    CHECK_FALSE(s.up());
    CHECK_FALSE(s.record(true));
    CHECK(s.record(true)); // back after `rise`, as any server
    CHECK_FALSE(s.record(false));
    CHECK(s.up());
}

TEST_CASE("health_check configuration: defaults, overrides and errors") {
    const std::string head = lb::test::web_service_head;
    auto r = load_config_text(
        head +
        R"(    health_check: {type: http, path: /health, expect_status: [200, "300-302"], fall: 2}
    real_servers:
      - {address: 203.0.113.11}
      - address: 203.0.113.12
        health_check: {path: /other, interval: 5s, timeout: 2s}
)");
    REQUIRE(r.config);
    const auto& a = *r.config->services[0].real_servers[0].health_check;
    const auto& b = *r.config->services[0].real_servers[1].health_check;
    CHECK(a.type == HealthCheck::Type::http);
    CHECK(a.path == "/health");
    CHECK(a.fall == 2);
    CHECK(a.rise == 2);
    CHECK(a.expect_status.size() == 2);
    CHECK(b.type == HealthCheck::Type::http); // inherited
    CHECK(b.path == "/other");
    CHECK(b.interval == Milliseconds{5000});
    CHECK(b.fall == 2);
    for (const auto& [yaml, text] : std::vector<std::pair<std::string, std::string>>{
             {"{type: ping}", "'ping' is not one of tcp"},
             {"{type: exec}", "type exec needs 'command'"},
             {"{type: udp}", "type udp needs 'send'"},
             {"{interval: 1s, timeout: 2s}", "timeout must not exceed interval"},
             {"{type: http, expect_status: [99]}", "HTTP codes are 100..599"},
             {"{type: http, body_regex: '('}", "not a regular expression"},
             {"{rise: 0}", "out of range"},
             {"{frequency: 2s}", "unknown key 'frequency' in health_check"}}) {
        auto bad = load_config_text(head + "    health_check: " + yaml + "\n");
        INFO(yaml);
        REQUIRE_FALSE(bad.config);
        CHECK_THAT(bad.diagnostics[0].message, Catch::Contains(text));
    }
}
