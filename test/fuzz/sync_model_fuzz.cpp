// The replication protocol's model (modules/replication/testing/sync_model.hpp) on schedules the
// fuzzer invents: every choice (faults, timings, restarts, epochs, sequence starts) is read from
// its bytes, so that coverage guides it into the protocol's corners. A schedule that breaks the
// model aborts; the input that did is the regression test (corpus/sync_model/).
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "modules/replication/testing/sync_model.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::size_t at = 0;
    // Two bytes per choice; past the input's end every choice is its last option (no fault:
    // every "chance" is drawn as a miss), so a short input is a short fault schedule.
    const lb::test::sync_model::Choice next = [&](std::uint32_t n) -> std::uint32_t {
        if (n <= 1)
            return 0;
        if (at + 2 > size)
            return n - 1;
        const std::uint32_t v = std::uint32_t{data[at]} << 8 | data[at + 1];
        at += 2;
        return v % n;
    };
    const auto r = lb::test::sync_model::run(next, 2);
    if (!r.ok) {
        std::fprintf(stderr, "sync model: %s\n", r.failure.c_str());
        std::abort();
    }
    return 0;
}
