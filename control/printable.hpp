// Text from outside (a server's banner in a health check's reason) made safe for a log line or
// a table: control characters and bytes that are not printable ASCII become \xNN, so that a
// "\r" cannot rewrite a terminal line and invalid UTF-8 cannot break a log reader. JSON needs
// no such care: control/json_text.hpp escapes and replaces on its own.
#pragma once

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace lb::control {

inline std::string printable(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u >= 0x7f)
            out += fmt::format("\\x{:02x}", u);
        else
            out += c;
    }
    return out;
}

} // namespace lb::control
