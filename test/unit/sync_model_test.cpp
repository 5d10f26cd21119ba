// The replication protocol against its model (modules/replication/testing/sync_model.hpp):
// thousands of seeded schedules of faults, each checked after every quiet period and at every step.
// A failing seed is printed; add it to `kept_seeds` below so that it is replayed forever.
// LB_MODEL_SCHEDULES sets how many random seeds run (scripts/fuzz's sync_model target runs more,
// from bytes).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>

#include "modules/replication/testing/sync_model.hpp"

namespace model = lb::test::sync_model;

namespace {

model::Result run_seed(std::uint64_t seed, unsigned rounds = 3) {
    std::mt19937_64 random(seed);
    const model::Choice next = [&random](std::uint32_t n) {
        return n <= 1 ? 0u : static_cast<std::uint32_t>(random() % n);
    };
    return model::run(next, rounds);
}

unsigned schedules() {
    if (const char* v = std::getenv("LB_MODEL_SCHEDULES"))
        return static_cast<unsigned>(std::strtoul(v, nullptr, 10));
    return 1000;
}

} // namespace

TEST_CASE("sync model: seeds that once failed are replayed forever", "[replication][model]") {
    // Faults the model found, kept (issue 21: "a fault found is a seeded schedule kept forever").
    // 1: a ghost run adopted first on both sides, neither proving itself to the other;
    // 0x5eed0000 + 0, 4, 13, 14: an unacknowledged replay stalling the sender, a replayed run
    // locking the live one out, copies expiring a transit time apart.
    const std::uint64_t kept_seeds[] = {1, 0x5eed0000, 0x5eed0004, 0x5eed000d, 0x5eed000e};
    for (const std::uint64_t seed : kept_seeds) {
        const model::Result r = run_seed(seed);
        INFO("seed " << seed << ": " << r.failure);
        CHECK(r.ok);
    }
}

TEST_CASE("sync model: random schedules of faults converge to the model", "[replication][model]") {
    model::Result total;
    const unsigned n = schedules();
    const std::uint64_t base = 0x5eed0000;
    for (unsigned i = 0; i < n; ++i) {
        const model::Result r = run_seed(base + i);
        if (!r.ok) {
            INFO("seed " << base + i << " failed (add it to kept_seeds): " << r.failure);
            REQUIRE(r.ok);
        }
        total.flows_created += r.flows_created;
        total.restarts += r.restarts;
        total.partitions += r.partitions;
        total.quiet_checks += r.quiet_checks;
        total.datagrams += r.datagrams;
        total.injected += r.injected;
        total.lost_at_failover += r.lost_at_failover;
    }
    // The schedules did what they are for: a run that never restarted or partitioned anything
    // would prove nothing.
    CHECK(total.restarts > n / 4);
    CHECK(total.partitions > n);
    CHECK(total.injected > n);
    WARN(n << " schedules: " << total.flows_created << " flows, " << total.restarts << " restarts, "
           << total.partitions << " partitions, " << total.injected
           << " reflected or replayed datagrams, " << total.datagrams << " datagrams, "
           << total.quiet_checks << " quiet checks, " << total.lost_at_failover
           << " flows lost at a failover before they were replicated");
}
