#include "dataplane/maglev_table.hpp"

#include <numeric>

namespace lb::dataplane {

std::uint64_t mix64(std::uint64_t x) {
    // splitmix64 finaliser: cheap, well distributed, identical on every node.
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

std::vector<std::uint16_t> build_maglev_slots(const std::vector<MaglevBackend>& backends,
                                              std::uint32_t size) {
    std::vector<std::uint16_t> table(size, maglev_no_backend);
    struct Walker {
        std::uint16_t backend;
        std::uint64_t offset;
        std::uint64_t skip;
        std::uint64_t next = 0;
        std::uint32_t turns;
    };
    std::vector<Walker> walkers;
    std::uint32_t divisor = 0;
    for (const auto& b : backends)
        if (b.weight > 0)
            divisor = std::gcd(divisor, b.weight);
    for (std::size_t i = 0; i < backends.size(); ++i) {
        const auto& b = backends[i];
        if (b.weight == 0)
            continue;
        walkers.push_back({static_cast<std::uint16_t>(i), mix64(b.identity) % size,
                           mix64(b.identity ^ 0x5bd1e9955bd1e995ull) % (size - 1) + 1, 0,
                           b.weight / divisor});
    }
    if (walkers.empty())
        return table;
    std::uint32_t filled = 0;
    while (true) {
        for (auto& w : walkers) {
            for (std::uint32_t t = 0; t < w.turns; ++t) {
                std::uint64_t slot = (w.offset + w.next * w.skip) % size;
                while (table[slot] != maglev_no_backend) {
                    ++w.next;
                    slot = (w.offset + w.next * w.skip) % size;
                }
                table[slot] = w.backend;
                ++w.next;
                if (++filled == size)
                    return table;
            }
        }
    }
}

std::vector<std::uint16_t> build_maglev_table(const std::vector<MaglevBackend>& backends,
                                              std::uint32_t size) {
    std::vector<std::uint16_t> table = build_maglev_slots(backends, size);
    bool all_available = true;
    for (const auto& b : backends)
        all_available = all_available && (b.available || b.weight == 0);
    if (all_available)
        return table;
    std::vector<MaglevBackend> available = backends;
    for (auto& b : available)
        if (!b.available)
            b.weight = 0;
    const std::vector<std::uint16_t> fallback = build_maglev_slots(available, size);
    for (std::uint32_t s = 0; s < size; ++s)
        if (table[s] == maglev_no_backend || !backends[table[s]].available)
            table[s] = fallback[s];
    return table;
}

} // namespace lb::dataplane
