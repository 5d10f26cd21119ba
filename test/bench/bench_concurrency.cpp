// The shared connection table under two threads (not a test): what 8 or 16 workers would do to
// it, measured with the two cores these machines have. Lookups alone, lookups while the other
// core inserts new connections (the writer lock and the slot stores a reader may see), and
// inserts from one core versus two at once (the writer spinlock and the free-index ring's
// compare-and-swap contended). Figures beside the single-thread baseline of the same run.
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <thread>
#include <vector>

#include <rte_cycles.h>
#include <rte_eal.h>

#include "dataplane/dataplane.hpp"

using namespace lb::dataplane;

namespace {

constexpr std::uint32_t preloaded = 1'000'000;
constexpr std::uint32_t capacity = 4'000'000;

ConnectionSpec spec_of(std::uint32_t i, std::uint32_t salt) {
    ConnectionSpec s;
    s.key.src_ip = 0x0a000000u + (i >> 14) + (salt << 20);
    s.key.dst_ip = 0xc6336464u;
    s.key.src_port = static_cast<std::uint16_t>(1024 + (i & 0x3fff));
    s.key.dst_port = 80;
    s.key.protocol = 6;
    s.rs_address = 0xc6336415u;
    return s;
}

void pin(unsigned cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

double ns(std::uint64_t cycles, std::uint64_t n) {
    return static_cast<double>(cycles) * 1e9 / static_cast<double>(rte_get_tsc_hz()) /
           static_cast<double>(n);
}

// Bulk lookups of random preloaded flows for `bursts` bursts of 32: ns per key.
double lookups(ConnectionTable& t, std::uint64_t bursts, unsigned cpu) {
    pin(cpu);
    std::mt19937 rng(cpu);
    FlowKey keys[32];
    const FlowKey* ptrs[32];
    ConnectionHit hits[32];
    std::uint64_t cycles = 0;
    for (std::uint64_t b = 0; b < bursts; ++b) {
        for (int k = 0; k < 32; ++k) {
            keys[k] = spec_of(rng() % preloaded, 0).key;
            ptrs[k] = &keys[k];
        }
        const std::uint64_t start = rte_rdtsc();
        if (t.lookup_bulk(ptrs, 32, hits) != 0xffffffffu)
            std::fprintf(stderr, "a preloaded flow was not found\n");
        cycles += rte_rdtsc() - start;
    }
    return ns(cycles, bursts * 32);
}

// Inserts `n` new connections (salt keeps threads' keys apart): ns per insert.
double inserts(ConnectionTable& t, std::uint32_t n, std::uint32_t salt, unsigned cpu,
               std::atomic<bool>* stop = nullptr) {
    pin(cpu);
    std::uint64_t cycles = 0, done = 0;
    for (std::uint32_t i = 0; i < n && !(stop && stop->load()); ++i) {
        const ConnectionSpec s = spec_of(i, salt);
        const std::uint64_t start = rte_rdtsc();
        t.insert(s, TcpState::established, 0, 1u << 30);
        cycles += rte_rdtsc() - start;
        ++done;
    }
    return ns(cycles, done ? done : 1);
}

} // namespace

int main(int argc, char** argv) {
    if (rte_eal_init(argc, argv) < 0)
        return 1;
    DataplaneSizes sizes;
    sizes.workers = 1;
    sizes.packet_buffers = 1023;
    sizes.packet_buffer_cache = 0;
    sizes.connections = capacity;
    sizes.reply_keys = false;
    sizes.name_prefix = "conc_";
    Dataplane dp(sizes);
    ConnectionTable& t = dp.connections();
    for (std::uint32_t i = 0; i < preloaded; ++i)
        t.insert(spec_of(i, 0), TcpState::established, 0, 1u << 30);
    constexpr std::uint64_t bursts = 100'000;
    constexpr std::uint32_t batch = 400'000;

    const double alone = lookups(t, bursts, 1);
    double beside = 0, insert_beside = 0;
    {
        std::atomic<bool> stop{false};
        std::thread writer([&] { insert_beside = inserts(t, batch, 1, 0, &stop); });
        beside = lookups(t, bursts, 1);
        stop = true;
        writer.join();
    }
    const double one_writer = inserts(t, batch, 2, 1);
    double two_a = 0, two_b = 0;
    {
        std::thread other([&] { two_a = inserts(t, batch, 3, 0); });
        two_b = inserts(t, batch, 4, 1);
        other.join();
    }
    std::printf("shared connection table, two threads on two cores (%u flows preloaded, "
                "capacity %u)\n",
                preloaded, capacity);
    std::printf("  lookup (bulk of 32), alone:                      %6.1f ns/key\n", alone);
    std::printf("  lookup while the other core inserts:             %6.1f ns/key (x%.2f)\n", beside,
                beside / alone);
    std::printf("  insert, one core:                                %6.1f ns\n", one_writer);
    std::printf("  insert beside the lookups:                       %6.1f ns\n", insert_beside);
    std::printf("  insert, two cores at once:                       %6.1f / %6.1f ns (x%.2f)\n",
                two_a, two_b, (two_a + two_b) / 2 / one_writer);
    rte_eal_cleanup();
    return 0;
}
