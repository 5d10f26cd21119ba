#include "control/config/regex.hpp"

#include <fmt/format.h>
#include <re2/re2.h>

namespace lb::control::config {

namespace {

re2::RE2::Options options() {
    re2::RE2::Options o;
    o.set_log_errors(false); // errors are reported as configuration errors, not on stderr
    // RE2's default budget (8 MiB) bounds what a compiled pattern and its matching DFA may use.
    return o;
}

} // namespace

Regex::Regex(std::string pattern) : pattern_(std::move(pattern)) {
    // Longer patterns are refused before RE2 sees them; RE2's own limits (program size,
    // repetition counts) refuse the rest.
    if (pattern_.size() > max_regex_length)
        throw std::invalid_argument(fmt::format("a pattern of {} bytes; at most {} are allowed",
                                                pattern_.size(), max_regex_length));
    auto compiled = std::make_shared<const re2::RE2>(pattern_, options());
    if (!compiled->ok()) {
        // RE2's message quotes the offending part, which may be most of the pattern.
        std::string reason = compiled->error();
        if (reason.size() > 80)
            reason = reason.substr(0, 77) + "...";
        throw std::invalid_argument("not a regular expression (RE2 syntax): " + reason);
    }
    compiled_ = std::move(compiled);
}

bool Regex::search(std::string_view text) const {
    if (!compiled_)
        return true; // no pattern: anything goes
    return re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *compiled_);
}

} // namespace lb::control::config
