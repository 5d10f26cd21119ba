// For configuration tests: asserts that YAML text yields exactly one error, at line:column,
// containing a text, and shows every diagnostic when it does not.
#pragma once

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "control/config/loader.hpp"

namespace lb::test {

inline std::string only_errors(const control::config::LoadResult& r) {
    std::string s;
    for (const auto& d : r.diagnostics)
        s += control::config::format_diagnostic("f.yaml", d) + "\n";
    return s;
}

inline void expect_error(const std::string& yaml, int line, int column, const std::string& text) {
    const control::config::LoadResult r = control::config::load_config_text(yaml);
    INFO(yaml);
    INFO(only_errors(r));
    REQUIRE_FALSE(r.config);
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].location.line == line);
    CHECK(r.diagnostics[0].location.column == column);
    CHECK_THAT(r.diagnostics[0].message, Catch::Contains(text));
}

struct ExpectedError {
    int line;
    int column;
    std::string text;
};

// Exactly these errors, in this order.
inline void expect_errors(const std::string& yaml, const std::vector<ExpectedError>& expected) {
    const control::config::LoadResult r = control::config::load_config_text(yaml);
    INFO(yaml);
    INFO(only_errors(r));
    REQUIRE_FALSE(r.config);
    REQUIRE(r.diagnostics.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CHECK(r.diagnostics[i].location.line == expected[i].line);
        CHECK(r.diagnostics[i].location.column == expected[i].column);
        CHECK_THAT(r.diagnostics[i].message, Catch::Contains(expected[i].text));
    }
}

} // namespace lb::test
