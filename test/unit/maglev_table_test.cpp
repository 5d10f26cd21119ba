#include <catch2/catch.hpp>

#include <map>

#include "dataplane/maglev_table.hpp"

using namespace lb::dataplane;

namespace {

std::vector<MaglevBackend> backends(const std::vector<std::uint32_t>& weights) {
    std::vector<MaglevBackend> b;
    for (std::size_t i = 0; i < weights.size(); ++i)
        b.push_back({(std::uint64_t{0xcb007100u + static_cast<std::uint32_t>(i)} << 16) | 80,
                     weights[i], true});
    return b;
}

std::map<std::uint16_t, std::size_t> shares(const std::vector<std::uint16_t>& table) {
    std::map<std::uint16_t, std::size_t> s;
    for (auto b : table)
        ++s[b];
    return s;
}

} // namespace

TEST_CASE("Maglev: every server's share is within 1% of its weight share at M=65537") {
    constexpr std::uint32_t M = 65537;
    const std::vector<std::vector<std::uint32_t>> cases = {
        {1, 1, 1, 1, 1}, {1, 2, 3, 4}, {3, 1}, {100, 100, 50}, {7, 11, 13, 17, 19, 23, 29}};
    for (const auto& weights : cases) {
        const auto table = build_maglev_table(backends(weights), M);
        REQUIRE(table.size() == M);
        const auto s = shares(table);
        double total = 0;
        for (auto w : weights)
            total += w;
        for (std::size_t i = 0; i < weights.size(); ++i) {
            const double expected = weights[i] / total;
            const double actual = static_cast<double>(s.at(static_cast<std::uint16_t>(i))) / M;
            INFO("weights case of " << weights.size() << " servers, server " << i);
            CHECK(std::abs(actual - expected) <= 0.01 * expected);
        }
        CHECK(s.count(maglev_no_backend) == 0);
    }
}

TEST_CASE("Maglev: weight 0 servers get no slot; no servers leaves the table empty") {
    const auto table = build_maglev_table(backends({1, 0, 1}), 65537);
    CHECK(shares(table).count(1) == 0);
    const auto empty = build_maglev_table(backends({0, 0}), 65537);
    CHECK(shares(empty).at(maglev_no_backend) == 65537);
}

TEST_CASE("Maglev: taking one of N servers out moves its slots and no other") {
    constexpr std::uint32_t M = 65537;
    for (std::size_t n : {3u, 5u, 10u}) {
        auto b = backends(std::vector<std::uint32_t>(n, 1));
        const auto before = build_maglev_table(b, M);
        const std::uint16_t removed = static_cast<std::uint16_t>(n / 2);
        b[removed].available = false;
        const auto after = build_maglev_table(b, M);
        std::size_t changed = 0;
        for (std::uint32_t s = 0; s < M; ++s) {
            if (before[s] != after[s]) {
                ++changed;
                // Only slots that pointed at the removed server may change...
                REQUIRE(before[s] == removed);
            }
            // ...and none points at it any more.
            REQUIRE(after[s] != removed);
        }
        INFO(n << " servers: " << changed << " slots changed");
        CHECK(std::abs(static_cast<double>(changed) / M - 1.0 / n) < 0.01);
        // Its slots are spread over the remaining servers in proportion.
        const auto s = shares(after);
        for (std::uint16_t i = 0; i < n; ++i)
            if (i != removed)
                CHECK(std::abs(static_cast<double>(s.at(i)) / M - 1.0 / (n - 1)) <
                      0.01 / (n - 1) + 0.002);
    }
}

TEST_CASE("Maglev: removing a server from the configuration disturbs close to 1/N") {
    constexpr std::uint32_t M = 65537;
    const std::size_t n = 10;
    auto b = backends(std::vector<std::uint32_t>(n, 1));
    const auto before = build_maglev_table(b, M);
    auto fewer = b;
    fewer.erase(fewer.begin() + 4);
    const auto after = build_maglev_table(fewer, M);
    std::size_t changed = 0;
    for (std::uint32_t s = 0; s < M; ++s) {
        // Compare server identities, since indices shift after the erased one.
        const auto id_before = b[before[s]].identity;
        const auto id_after = fewer[after[s]].identity;
        changed += id_before != id_after;
    }
    const double fraction = static_cast<double>(changed) / M;
    INFO("changed fraction " << fraction);
    CHECK(fraction >= 1.0 / n);
    CHECK(fraction < 1.0 / n + 0.03);
}

TEST_CASE("Maglev: the same servers give the same table on every node") {
    auto a = build_maglev_table(backends({1, 2, 3}), 65537);
    auto b = build_maglev_table(backends({1, 2, 3}), 65537);
    CHECK(a == b);
}
