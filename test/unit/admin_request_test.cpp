// lbctl's requests, parsed once for lbctl and lb alike: every malformed request is a usage
// error (lbctl exits 2), the rest carry their command whatever the position of --json.
#include <catch2/catch.hpp>

#include "lb/admin_request.hpp"
#include "lb/module.hpp"

using namespace lb::app;

TEST_CASE("Admin requests: usage errors are told apart from requests") {
    for (const std::vector<std::string>& words :
         {std::vector<std::string>{},
          {"--json"},
          {"set-weight"},
          {"set-weight", "web", "1.2.3.4"},
          {"set-weight", "a", "b", "1", "extra"},
          {"drain", "web"},
          {"frobnicate"},
          {"services", "extra"},
          {"real-servers", "a", "b"},
          {"reload", "now"},
          {"stats", "x"},
          {"vrrp", "x"},
          {"connections", "--limit"},
          {"connections", "--limit", "x"},
          {"connections", "--limit", "0"},
          {"connections", "--service"},
          {"connections", "--bogus", "1"},
          {"connections", "--service", "a", "--service", "b"}}) {
        INFO(words.size());
        const auto p = parse_admin_request(words);
        CHECK(!p.request);
        CHECK(!p.usage_error.empty());
    }
    CHECK(parse_admin_request({"drain", "web"}).usage_error.rfind("drain SERVICE SERVER", 0) == 0);
}

TEST_CASE("Admin requests: --json anywhere, one canonical line") {
    const auto a = parse_admin_request_line("--json reload");
    const auto b = parse_admin_request_line("reload --json");
    REQUIRE(a.request);
    REQUIRE(b.request);
    CHECK(a.request->command == Command::reload);
    CHECK(b.request->command == Command::reload);
    CHECK(a.request->json);
    CHECK(a.request->changes_state());
    CHECK(a.request->line() == "--json reload");
    CHECK(b.request->line() == "--json reload");

    const auto w = parse_admin_request_line("set-weight web --json 10.0.0.1:80 \t 7");
    REQUIRE(w.request);
    CHECK(w.request->command == Command::set_weight);
    CHECK(w.request->args == std::vector<std::string>{"web", "10.0.0.1:80", "7"});
    CHECK(w.request->changes_state());
    CHECK(w.request->line() == "--json set-weight web 10.0.0.1:80 7");

    const auto c = parse_admin_request_line("connections --limit 5 --service web");
    REQUIRE(c.request);
    CHECK(!c.request->changes_state());
    CHECK(!c.request->json);
}

TEST_CASE("Admin requests: every module's commands are in lbctl's list and parse") {
    for (const ModuleCommand& c : module_commands()) {
        INFO(c.name);
        CHECK(admin_usage().find(std::string("  ") + c.usage) != std::string::npos);
        std::vector<std::string> words{c.name};
        for (std::size_t i = 0; i < c.min_args; ++i)
            words.push_back("x");
        const auto p = parse_admin_request(words);
        REQUIRE(p.request);
        CHECK(p.request->command == Command::module);
        CHECK(p.request->is_module_command(c.name));
        CHECK(p.request->line() == c.name);
        words.resize(c.max_args + 2, "extra"); // one argument too many
        CHECK_FALSE(parse_admin_request(words).request);
    }
    CHECK_THAT(parse_admin_request({"frobnicate"}).usage_error,
               Catch::Contains("vrrp, replication, bgp, drain-node"));
}

TEST_CASE("Admin requests: each module command names a module that can answer it") {
    for (const ModuleCommand& c : module_commands()) {
        INFO(c.name);
        const ModuleKind* kind = module_named(c.module);
        REQUIRE(kind);
        if (c.view)
            CHECK(kind->view);
        else
            CHECK(std::string(c.without_module).size() > 0);
    }
}
