// What the admin side writes as JSON stays valid whatever bytes servers send (issue 10, item 4:
// a health check's reason with a banner's "\r" once broke `lbctl --json real-servers`).
#include <catch2/catch.hpp>

#include "control/json_text.hpp"
#include "control/printable.hpp"

using lb::control::Json;
using lb::control::json_text;
using lb::control::printable;

TEST_CASE("json_text: control characters, quotes, backslashes and invalid UTF-8") {
    const std::string reason = "unexpected answer '421 \"busy\" \\ \x01 \xff\xfe end\r\n'";
    const std::string text = json_text({{"health_reason", reason}, {"weight", 1}});
    CHECK(text.find('\r') == std::string::npos);
    CHECK(text.find('\x01') == std::string::npos);
    CHECK(text.find("\\r\\n") != std::string::npos);
    CHECK(text.find("\\u0001") != std::string::npos);
    CHECK(text.find("\\\"busy\\\"") != std::string::npos);
    // It parses back: the invalid bytes are U+FFFD, the rest is the reason itself.
    const Json back = Json::parse(text);
    const std::string got = back["health_reason"];
    CHECK(got == "unexpected answer '421 \"busy\" \\ \x01 \xEF\xBF\xBD\xEF\xBF\xBD end\r\n'");
    CHECK(text.rfind("{\"health_reason\"", 0) == 0); // fields keep their order
}

TEST_CASE("printable: one line for a log or a table") {
    CHECK(printable("421 \"x\"\r\n\x01\xff") == "421 \"x\"\\x0d\\x0a\\x01\\xff");
    CHECK(printable("plain") == "plain");
}
