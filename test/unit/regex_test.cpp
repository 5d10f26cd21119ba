// Health checks' regular expressions: RE2, compiled once at load; neither a pattern from the
// file nor a long reply from a server can crash the balancer (std::regex recursed on both).
#include <catch2/catch.hpp>

#include <string>

#include "control/config/loader.hpp"
#include "control/config/regex.hpp"

using namespace lb::control::config;

namespace {

// The node and its one interface: every configuration below starts with them.
const std::string node_and_interface = R"(node: {name: a}
interfaces:
  - {name: ext, device: d0, address: 198.51.100.2/24}
)";

const std::string head = node_and_interface + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    real_servers: [{address: 198.51.100.11}]
    health_check:
      type: http
      body_regex: )";

std::string nested(std::size_t depth) {
    return std::string(depth, '(') + "a" + std::string(depth, ')');
}

} // namespace

TEST_CASE("a pattern of 20,000 nested parentheses is an error at its location, not a crash") {
    // This pattern overflowed std::regex's recursive compiler: `lb --check` died of SIGSEGV.
    const LoadResult r = load_config_text(head + nested(20'000) + "\n");
    REQUIRE_FALSE(r.config);
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].location.line == 11);
    CHECK(r.diagnostics[0].location.column == 19);
    CHECK_THAT(r.diagnostics[0].message, Catch::Contains("at most 4096"));
}

TEST_CASE("a pattern over the regex length limit is refused, one under it is compiled") {
    const LoadResult r = load_config_text(head + nested(600) + "\n");
    REQUIRE_FALSE(r.config);
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].location.line == 11);
    CHECK(r.diagnostics[0].message ==
          "body_regex: a pattern of 1201 bytes; at most 1024 are allowed");
    const LoadResult ok = load_config_text(head + nested(500) + "\n");
    REQUIRE(ok.config);
    const auto& check = *ok.config->services[0].real_servers[0].health_check;
    CHECK(check.body_regex.search("xax"));
    CHECK_FALSE(check.body_regex.search("xbx"));
}

TEST_CASE("RE2 refuses what it cannot run in bounded memory, and ECMAScript-only syntax") {
    for (const auto& [pattern, text] : std::vector<std::pair<std::string, std::string>>{
             {"'((a{100}){100}){100}'", "invalid repetition size"},
             {"'(\\pL{100}){10}'", "pattern too large"},
             {"'(a)\\1'", "invalid escape sequence"},
             {"'a(?=b)'", "invalid perl operator"},
             {"'('", "missing )"}}) {
        INFO(pattern);
        const LoadResult r = load_config_text(head + pattern + "\n");
        REQUIRE_FALSE(r.config);
        REQUIRE(r.diagnostics.size() == 1);
        CHECK(r.diagnostics[0].location.line == 11);
        CHECK_THAT(r.diagnostics[0].message,
                   Catch::StartsWith("body_regex: not a regular expression (RE2 syntax): ") &&
                       Catch::Contains(text));
    }
}

TEST_CASE("expect_regex is checked like body_regex") {
    const LoadResult r = load_config_text(node_and_interface + R"(services:
  - name: mail
    vip: 198.51.100.100
    port: 25
    health_check: {type: send_expect, send: "HELO\r\n", expect_regex: "^2[0-9"}
    real_servers: [{address: 198.51.100.11}]
)");
    REQUIRE_FALSE(r.config);
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].location.line == 8);
    CHECK(r.diagnostics[0].location.column == 71);
    CHECK_THAT(r.diagnostics[0].message, Catch::Contains("missing ]"));
    CHECK_THAT(r.diagnostics[0].message, Catch::StartsWith("expect_regex: not a regular"));
}

TEST_CASE("matching a long server reply neither recurses nor takes long") {
    // std::regex_search recursed once per character here: a 64 KiB reply (the most a check
    // reads) from a server overflowed the stack of the control thread.
    const Regex alternation("(a|b)*c");
    const std::string reply(65536, 'a');
    CHECK_FALSE(alternation.search(reply));
    CHECK(alternation.search(reply + "c"));
    const Regex anchored("^HTTP/1\\.[01] 200");
    CHECK(anchored.search("HTTP/1.1 200 OK\r\n"));
    CHECK_FALSE(anchored.search(" HTTP/1.1 200 OK"));
}

TEST_CASE("real servers inherit the service's compiled pattern") {
    const LoadResult r = load_config_text(node_and_interface + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    health_check: {type: http, body_regex: "ok"}
    real_servers:
      - {address: 198.51.100.11}
      - {address: 198.51.100.12, health_check: {path: /other}}
)");
    REQUIRE(r.config);
    const auto& a = r.config->services[0].real_servers[0].health_check->body_regex;
    const auto& b = r.config->services[0].real_servers[1].health_check->body_regex;
    CHECK(a == b);
    CHECK(a.pattern() == "ok");
    CHECK(b.search("all ok"));
}
