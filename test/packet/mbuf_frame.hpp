// Frames in mbufs, as a worker receives them: for the tests that parse or rewrite in place.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include <rte_mbuf.h>

#include "test/packet/frame_builder.hpp"

namespace lb::test {

// One pool for the packet tests' frames; enough for the few each case holds at once.
inline rte_mempool* frame_pool() {
    static rte_mempool* p =
        rte_pktmbuf_pool_create("packet_test_frames", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    REQUIRE(p != nullptr);
    return p;
}

// `frame` in one mbuf, or in two chained ones when `first` is below its size. The first buffer
// then holds the whole frame anyway, its data_len cut at `first`: code that read past data_len
// would find the right bytes there and accept what it must refuse. The caller frees it.
inline rte_mbuf* mbuf_of(const Bytes& frame, std::size_t first = SIZE_MAX) {
    first = std::min(first, frame.size());
    rte_mbuf* m = rte_pktmbuf_alloc(frame_pool());
    REQUIRE(m != nullptr);
    std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size())), frame.data(),
                frame.size());
    if (first < frame.size()) {
        rte_pktmbuf_trim(m, static_cast<std::uint16_t>(frame.size() - first));
        rte_mbuf* tail = rte_pktmbuf_alloc(frame_pool());
        REQUIRE(tail != nullptr);
        std::memcpy(rte_pktmbuf_append(tail, static_cast<std::uint16_t>(frame.size() - first)),
                    frame.data() + first, frame.size() - first);
        REQUIRE(rte_pktmbuf_chain(m, tail) == 0);
    }
    return m;
}

} // namespace lb::test
