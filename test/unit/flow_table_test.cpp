#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "dataplane/flow_table.hpp"

using namespace lb::dataplane;

namespace {

// Entries for the table under test: key i stored at index i, tag 0 only.
struct KeyArray {
    std::vector<FlowKey> keys;
    const void* address(std::uint32_t index) const { return &keys[index]; }
    bool matches(std::uint32_t index, std::uint8_t tag, const FlowKey& key) const {
        return tag == 0 && keys[index] == key;
    }
};

KeyArray make_keys(std::uint32_t n) {
    KeyArray a;
    for (std::uint32_t i = 0; i < n; ++i) {
        FlowKey k;
        k.src_ip = 0x0a000000 + i;
        k.dst_ip = 0xc6336464;
        k.src_port = static_cast<std::uint16_t>(i * 7);
        k.dst_port = 80;
        k.protocol = 6;
        a.keys.push_back(k);
    }
    return a;
}

} // namespace

TEST_CASE("flow table: insert, find, refuse duplicates, remove") {
    const KeyArray a = make_keys(100);
    FlowTable t("ft_basic", 100, 0);
    for (std::uint32_t i = 0; i < 100; ++i)
        REQUIRE(t.insert(a.keys[i], i, 0, a));
    CHECK_FALSE(t.insert(a.keys[5], 5, 0, a));
    for (std::uint32_t i = 0; i < 100; ++i) {
        auto hit = t.lookup(a.keys[i], a);
        REQUIRE(hit);
        CHECK(hit->index == i);
    }
    CHECK(t.remove(a.keys[5], 5, 0));
    CHECK_FALSE(t.remove(a.keys[5], 5, 0));
    CHECK_FALSE(t.lookup(a.keys[5], a));
    CHECK(t.insert(a.keys[5], 5, 0, a));
}

TEST_CASE("flow table: keys beyond their home bucket stay reachable as others leave") {
    // 28 slots in 4 buckets for 26 keys: most probe sequences overflow.
    const KeyArray a = make_keys(26);
    FlowTable t("ft_overflow", 20, 0);
    REQUIRE(t.bucket_count() == 4);
    for (std::uint32_t i = 0; i < 26; ++i)
        REQUIRE(t.insert(a.keys[i], i, 0, a));
    for (std::uint32_t round = 0; round < 3; ++round) {
        for (std::uint32_t i = round; i < 26; i += 3)
            REQUIRE(t.remove(a.keys[i], i, 0));
        for (std::uint32_t i = 0; i < 26; ++i) {
            const bool present = i % 3 > round;
            INFO("round " << round << " key " << i);
            CHECK(t.lookup(a.keys[i], a).has_value() == present);
        }
        const FlowKey* ptrs[26];
        FlowTable::Hit hits[26];
        for (std::uint32_t i = 0; i < 26; ++i)
            ptrs[i] = &a.keys[i];
        const std::uint64_t mask = t.lookup_bulk(ptrs, 26, hits, a);
        for (std::uint32_t i = 0; i < 26; ++i)
            CHECK(((mask >> i) & 1) == (i % 3 > round ? 1u : 0u));
    }
    // Everything gone: the overflow counts came back to zero, so a full table again fits.
    for (std::uint32_t i = 0; i < 26; ++i)
        REQUIRE(t.insert(a.keys[i], i, 0, a));
}

TEST_CASE("flow table: a completely full table refuses inserts") {
    const KeyArray a = make_keys(29);
    FlowTable t("ft_full", 20, 0); // 28 slots
    for (std::uint32_t i = 0; i < 28; ++i)
        REQUIRE(t.insert(a.keys[i], i, 0, a));
    CHECK_FALSE(t.insert(a.keys[28], 28, 0, a));
}

TEST_CASE("flow table: lookups during concurrent inserts and removals never miss a stable key") {
    // Stable keys 0..499 stay; churn keys 500..4999 come and go in another thread. Readers must
    // find every stable key, with the right index, at every moment.
    const KeyArray a = make_keys(5000);
    FlowTable t("ft_concurrent", 3000, 0);
    for (std::uint32_t i = 0; i < 500; ++i)
        REQUIRE(t.insert(a.keys[i], i, 0, a));
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        std::uint32_t next = 500;
        std::vector<std::uint32_t> live;
        for (int step = 0; step < 200'000; ++step) {
            if (live.size() < 2000) {
                if (t.insert(a.keys[next], next, 0, a))
                    live.push_back(next);
                next = next + 1 == 5000 ? 500 : next + 1;
            } else {
                const std::uint32_t victim = live[step % live.size()];
                REQUIRE(t.remove(a.keys[victim], victim, 0));
                live[step % live.size()] = live.back();
                live.pop_back();
            }
        }
        stop = true;
    });
    std::uint64_t lookups = 0;
    std::uint64_t wrong = 0;
    const FlowKey* ptrs[32];
    FlowTable::Hit hits[32];
    while (!stop) {
        for (std::uint32_t base = 0; base < 500; base += 32) {
            const std::uint32_t n = std::min<std::uint32_t>(32, 500 - base);
            for (std::uint32_t i = 0; i < n; ++i)
                ptrs[i] = &a.keys[base + i];
            const std::uint64_t mask = t.lookup_bulk(ptrs, n, hits, a);
            for (std::uint32_t i = 0; i < n; ++i)
                wrong += !((mask >> i) & 1) || hits[i].index != base + i;
            lookups += n;
        }
    }
    writer.join();
    INFO(lookups << " lookups");
    CHECK(lookups > 0);
    CHECK(wrong == 0);
}
