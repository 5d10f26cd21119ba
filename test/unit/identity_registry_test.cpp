// IdentityRegistry: the numbers connections, templates and counters refer to stay with their
// service or real server for the life of the process.
#include <catch2/catch.hpp>

#include <set>
#include <stdexcept>
#include <string>

#include "control/identity_registry.hpp"
#include "dataplane/counters.hpp"

using lb::control::IdentityRegistry;

TEST_CASE("a service keeps its number; new names get the next one") {
    IdentityRegistry r;
    CHECK_FALSE(r.find_service("web"));
    const auto web = r.service("web");
    const auto ftp = r.service("ftp");
    CHECK(web == 0);
    CHECK(ftp == 1);
    CHECK(r.service("web") == web);
    CHECK(r.find_service("web") == web);
    CHECK(r.service_count() == 2);
    // Looking a name up does not number it.
    CHECK_FALSE(r.find_service("dns"));
    CHECK(r.service_count() == 2);
}

TEST_CASE("a real server is its service, address and port together") {
    IdentityRegistry r;
    const auto a = r.real_server("web", 0xcb00710b, 8080);
    CHECK(r.real_server("web", 0xcb00710b, 8080) == a);
    const std::set<std::uint16_t> ids = {a, r.real_server("web", 0xcb00710b, 8081),
                                         r.real_server("web", 0xcb00710c, 8080),
                                         r.real_server("api", 0xcb00710b, 8080)};
    CHECK(ids.size() == 4);
    CHECK(r.real_server_count() == 4);
    CHECK(r.find_real_server("api", 0xcb00710b, 8080) == r.real_server("api", 0xcb00710b, 8080));
    CHECK_FALSE(r.find_real_server("api", 0xcb00710b, 8081));
    CHECK(r.real_server_count() == 4);
}

TEST_CASE("numbers are never given to anything else: a server removed and re-added keeps its") {
    // A reload that drops a server does not tell the registry (its draining connections still
    // use the number); one that adds it back finds it again.
    IdentityRegistry r;
    const auto first = r.real_server("web", 1, 80);
    const auto second = r.real_server("web", 2, 80);
    const auto third = r.real_server("web", 3, 80);
    CHECK(r.real_server("web", 1, 80) == first);
    CHECK(r.real_server("web", 4, 80) != second);
    CHECK(r.real_server("web", 4, 80) != third);
    CHECK(r.real_server("web", 2, 80) == second);
}

TEST_CASE("past the dataplane's limits the registry refuses, asking for a restart") {
    IdentityRegistry r;
    for (std::size_t i = 0; i < lb::dataplane::max_services; ++i)
        r.service("s" + std::to_string(i));
    CHECK(r.service("s0") == 0); // known names still answer
    CHECK_THROWS_WITH(r.service("one more"), Catch::Contains("restart lb"));

    for (std::uint32_t i = 0; i < lb::dataplane::max_real_servers; ++i)
        r.real_server("s0", i, 80);
    CHECK(r.real_server("s0", 7, 80) == 7);
    CHECK_THROWS_AS(r.real_server("s0", 0xffffffff, 80), std::runtime_error);
}
