#include <catch2/catch.hpp>

#include "dataplane/persistence_table.hpp"

using namespace lb::dataplane;

TEST_CASE("persistence templates") {
    PersistenceTable t(1024, nullptr, 0, "pt_unit");
    const PersistenceKey key{0x0a000001, 3, 0};
    const std::uint32_t timeout = 1000;

    SECTION("a template expires after its timeout once no connection is alive") {
        auto a = t.create_and_attach(key, TemplateTarget{7, 80, 1}, 0, timeout);
        REQUIRE(a);
        CHECK(a->still_valid);
        CHECK(t.target(a->index).real_server == 7);
        CHECK(t.target(a->index).address == 1);
        t.detach(a->index);
        t.collect(0, 1024, 1000);
        CHECK(t.size() == 1);
        t.collect(0, 1024, 1001);
        CHECK(t.size() == 0);
        t.reclaim();
        CHECK_FALSE(t.find_and_attach(key, 1001));
    }
    SECTION("each new connection refreshes it") {
        auto a = t.create_and_attach(key, TemplateTarget{7, 80, 1}, 0, timeout);
        t.detach(a->index);
        auto b = t.find_and_attach(key, 800);
        REQUIRE(b);
        CHECK(b->still_valid);
        t.refresh(b->index, 800);
        t.detach(b->index);
        t.collect(0, 1024, 1500);
        CHECK(t.size() == 1);
        t.collect(0, 1024, 1801);
        CHECK(t.size() == 0);
    }
    SECTION("it outlives its timeout while a connection it controls is alive") {
        auto a = t.create_and_attach(key, TemplateTarget{7, 80, 1}, 0, timeout);
        t.collect(0, 1024, 50 * timeout);
        CHECK(t.size() == 1);
        auto b = t.find_and_attach(key, 50 * timeout);
        REQUIRE(b);
        CHECK(b->still_valid); // a child is alive: still binding
        t.detach(b->index);
        t.detach(a->index);
        t.collect(0, 1024, 50 * timeout);
        CHECK(t.size() == 0);
    }
    SECTION("an expired template not yet collected is found but no longer binding") {
        auto a = t.create_and_attach(key, TemplateTarget{7, 80, 1}, 0, timeout);
        t.detach(a->index);
        auto b = t.find_and_attach(key, 5000);
        REQUIRE(b);
        CHECK_FALSE(b->still_valid);
        t.detach(b->index);
    }
    SECTION("creating twice attaches to the first") {
        auto a = t.create_and_attach(key, TemplateTarget{7, 80, 1}, 0, timeout);
        auto b = t.create_and_attach(key, TemplateTarget{9, 80, 2}, 0, timeout);
        REQUIRE(b);
        CHECK(a->index == b->index);
        CHECK(t.target(b->index).real_server == 7);
        CHECK(t.at(b->index).children.load() == 2);
    }
    SECTION("a full table refuses new templates") {
        for (std::uint32_t i = 0; i < 1024; ++i)
            REQUIRE(
                t.create_and_attach(PersistenceKey{i, 1, 0}, TemplateTarget{1, 80, 1}, 0, timeout));
        CHECK_FALSE(
            t.create_and_attach(PersistenceKey{5000, 1, 0}, TemplateTarget{1, 80, 1}, 0, timeout));
        CHECK(t.find_and_attach(PersistenceKey{5, 1, 0}, 0));
    }
}
