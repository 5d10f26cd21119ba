// A model-based check of the replication protocol (issue 21): two nodes, each with a live table
// and a PeerLink to the other, on a virtual clock and a hostile wire, driven by a schedule of
// creations, changes, idle flows expiring, loss, duplication, reordering, partitions (one way or
// both, shorter and longer than the peer timeout and the copies' life), restarts of either node
// (mid-dump included, with an epoch that grows or, as after a clock step without an epoch file,
// shrinks), reflected and replayed datagrams, and sequence numbers starting near 2^31 and 2^32.
//
// The reference is what the nodes must converge to: every live flow, with the state its owner
// gave it last. Checked after every quiet period (faults off, nothing new): both tables equal the
// model and both links are in sync. Checked at every step: a node that reports "in sync" while
// its peer has nothing queued or in flight holds every flow its peer owns, and no flow its owner
// still forwards has been deleted anywhere. A failure names the seed; the same seed replays it.
//
// Used by the unit test (test/unit/sync_model_test.cpp, thousands of seeds) and the libFuzzer
// target (test/fuzz/sync_model_fuzz.cpp, a schedule decoded from the fuzzer's bytes).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace lb::test::sync_model {

// The choices a schedule is made of; `next(n)` answers 0..n-1 (a seeded generator, or the
// fuzzer's bytes).
using Choice = std::function<std::uint32_t(std::uint32_t n)>;

struct Result {
    bool ok = true;
    std::string failure; // what went wrong, when and where
    // Figures, for the test's report.
    std::uint64_t flows_created = 0;
    std::uint64_t restarts = 0;
    std::uint64_t partitions = 0;
    std::uint64_t quiet_checks = 0;
    std::uint64_t datagrams = 0;
    std::uint64_t injected = 0;         // reflected and replayed datagrams
    std::uint64_t lost_at_failover = 0; // flows of a restarted node its peer did not hold yet
};

// Runs one schedule of `rounds` rounds (each a busy period with faults, then a quiet period).
Result run(const Choice& next, unsigned rounds);

} // namespace lb::test::sync_model
