// A regular expression from the configuration (health checks' `body_regex` and `expect_regex`),
// compiled once when the file is loaded and shared by every check that uses it.
//
// RE2, not std::regex: libstdc++'s std::regex compiles and matches by recursion, so a pattern of
// nested parentheses (from the file) or a long server reply (from the network) overflows the
// stack and kills the balancer. RE2 runs in time linear in the input, on its own bounded memory,
// and never recurses on the pattern or the text. Its syntax is ECMAScript's without
// backreferences and lookaround (README, "Robustness").
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include "control/config/limits.hpp"

namespace re2 {
class RE2;
}

namespace lb::control::config {

class Regex {
  public:
    Regex() = default; // empty: no pattern configured
    // Throws std::invalid_argument with a reason a user can act on.
    explicit Regex(std::string pattern);

    bool empty() const { return pattern_.empty(); }
    const std::string& pattern() const { return pattern_; }
    // Whether the pattern matches somewhere in `text`.
    bool search(std::string_view text) const;

    friend bool operator==(const Regex& a, const Regex& b) { return a.pattern_ == b.pattern_; }

  private:
    std::string pattern_;
    std::shared_ptr<const re2::RE2> compiled_;
};

} // namespace lb::control::config
