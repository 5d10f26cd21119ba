// What yaml-cpp accepts silently and a configuration must not: duplicate keys, a second
// document, bytes that are not UTF-8, absurd lengths, alias bombs, deep nesting. Each is an
// error at its location, and none may crash or take long (a fuzz target calls the loader).
#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "control/config/loader.hpp"
#include "control/config/yaml_structure.hpp"

using namespace lb::control::config;

namespace {

const std::string valid = R"(node: {name: a}
interfaces:
  - {name: ext, device: d0, address: 198.51.100.2/24}
)";

void expect_one(const std::string& yaml, int line, int column, const std::string& text) {
    const LoadResult r = load_config_text(yaml);
    INFO(yaml.substr(0, 200));
    REQUIRE_FALSE(r.config);
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].location.line == line);
    CHECK(r.diagnostics[0].location.column == column);
    CHECK_THAT(r.diagnostics[0].message, Catch::Contains(text));
}

// Loads `yaml`, which must fail, within `seconds`.
LoadResult refused_quickly(const std::string& yaml, double seconds = 1.0) {
    const auto start = std::chrono::steady_clock::now();
    LoadResult r = load_config_text(yaml);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    CHECK(took.count() < seconds);
    CHECK_FALSE(r.config);
    CHECK_FALSE(r.diagnostics.empty());
    return r;
}

} // namespace

TEST_CASE("a key given twice is an error at the second, naming the first") {
    REQUIRE(load_config_text(valid).config);
    // yaml-cpp kept both and lb read the first `node:` only.
    expect_one(valid + "node: {name: b}\n", 4, 1,
               "duplicate key 'node' (first at line 1, column 1)");
    expect_one("node: {name: a, name: b}\n" + valid.substr(valid.find('\n') + 1), 1, 17,
               "duplicate key 'name' (first at line 1, column 8)");
    // In any mapping, however deep: a real server's health check.
    expect_one(valid + R"(services:
  - name: web
    vip: 198.51.100.100
    port: 80
    real_servers:
      - address: 198.51.100.11
        health_check:
          type: tcp
          type: http
)",
               12, 11, "duplicate key 'type' (first at line 11, column 11)");
    // The same key in two different mappings is fine.
    REQUIRE(
        load_config_text(valid + "stats: {interval: 1s}\nadmin: {socket: /run/x.sock}\n").config);
}

TEST_CASE("a second YAML document is an error at its start") {
    expect_one(valid + "---\nnode: {name: b}\n", 4, 1, "a second YAML document");
    expect_one(valid + "...\n---\n", 5, 1, "a second YAML document");
    // An explicit start of the only document is fine.
    REQUIRE(load_config_text("---\n" + valid).config);
}

TEST_CASE("text that is not UTF-8 is an error at the value") {
    expect_one("node: {name: \"a\xff\"}\n" + valid.substr(valid.find('\n') + 1), 1, 14,
               "not valid UTF-8 (byte 2 of the value is 0xff)");
    // An overlong encoding of '/' and a lone surrogate are not UTF-8 either.
    expect_one(valid + "stats: {file: \"/x\xc0\xaf\"}\n", 4, 15, "not valid UTF-8");
    expect_one(valid + "stats: {file: \"/x\xed\xa0\x80\"}\n", 4, 15, "not valid UTF-8");
    // Real UTF-8 is fine.
    REQUIRE(
        load_config_text("node: {name: \"nœud-é\"}\n" + valid.substr(valid.find('\n') + 1)).config);
    std::size_t at = 0;
    CHECK(valid_utf8("\xf0\x9f\x98\x80", at));
    CHECK_FALSE(valid_utf8("ab\xf4\x90\x80\x80", at)); // above U+10FFFF
    CHECK(at == 2);
    CHECK_FALSE(valid_utf8("\xe2\x82", at)); // cut short
}

TEST_CASE("names and values have a length limit") {
    const std::string long_name(65, 'n');
    expect_one("node: {name: " + long_name + "}\n" + valid.substr(valid.find('\n') + 1), 1, 14,
               "name: 65 bytes; a name has at most 64");
    REQUIRE(load_config_text("node: {name: " + std::string(64, 'n') + "}\n" +
                             valid.substr(valid.find('\n') + 1))
                .config);
    expect_one(valid + "stats: {file: /" + std::string(5000, 'x') + "}\n", 4, 15,
               "a value of 5001 bytes; at most 4096 are allowed");
}

TEST_CASE("aliases may not expand the document beyond a bound") {
    // Ten levels of ten aliases each: 10^10 nodes for the readers to walk, from 300 bytes.
    std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 10; ++i) {
        bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k)
            bomb += (k ? ", *a" : "*a") + std::to_string(i - 1);
        bomb += "]\n";
    }
    const LoadResult r = refused_quickly(bomb);
    CHECK_THAT(r.diagnostics[0].message,
               Catch::Contains("aliases expand the document by more than 100000 nodes"));
    // A few references are fine (and unknown keys are then reported as usual).
    const LoadResult small = load_config_text(valid + "x: &x [1, 2]\ny: *x\n");
    REQUIRE(small.diagnostics.size() == 2);
    CHECK_THAT(small.diagnostics[0].message, Catch::Contains("unknown key 'x'"));
}

TEST_CASE("deep nesting is an error, not a stack overflow") {
    refused_quickly(std::string(100'000, '['));
    refused_quickly(std::string(100'000, '{'));
    refused_quickly("a: " + std::string(60'000, '[') + std::string(60'000, ']'));
    std::string block; // "- - - ... x": block sequences, each the item of the one before
    for (int i = 0; i < 5000; ++i)
        block += "- ";
    refused_quickly(block + "x\n");
}

TEST_CASE("regression: a stray top-level ',' is an error, not an endless loop (found by fuzzing)") {
    // yaml-cpp 0.7 starts a new empty document at it forever; `lb --check` hung on a file
    // holding only ",".
    for (const std::string& yaml : {std::string(","), valid + ",\n", std::string(",,,")}) {
        const auto start = std::chrono::steady_clock::now();
        const LoadResult r = load_config_text(yaml);
        CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
        REQUIRE_FALSE(r.config);
        REQUIRE_FALSE(r.diagnostics.empty());
    }
}
