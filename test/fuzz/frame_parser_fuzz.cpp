// parse_frame on arbitrary frames: whatever it accepts, the headers it points at lie inside the
// frame, and the lengths it reports agree with them. Each input is parsed twice: in one buffer,
// then cut into two chained buffers where its last byte says, since headers are read from the
// first segment only. Under ASan the bytes after each segment's data are poisoned, so a read
// past data_len is a crash even where the buffer goes on.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <rte_tcp.h>
#include <sanitizer/asan_interface.h>

#include "dataplane/packet_parser.hpp"
#include "test/fuzz/fuzz_eal.hpp"

using namespace lb::dataplane;

namespace {

rte_mempool* pool = nullptr;

rte_mbuf* segment(const std::uint8_t* data, std::size_t size) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m)
        std::abort();
    if (size > 0)
        std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(size)), data, size);
    ASAN_POISON_MEMORY_REGION(rte_pktmbuf_mtod_offset(m, std::uint8_t*, size),
                              rte_pktmbuf_tailroom(m));
    return m;
}

void release(rte_mbuf* m) {
    for (rte_mbuf* s = m; s != nullptr; s = s->next)
        ASAN_UNPOISON_MEMORY_REGION(rte_pktmbuf_mtod_offset(s, std::uint8_t*, s->data_len),
                                    rte_pktmbuf_tailroom(s));
    rte_pktmbuf_free(m);
}

// What a verdict promises: every header the worker will read lies inside [begin, end), the
// first segment, and the upper layer's length inside the frame (`frame_end`).
void check(const ParsedFrame& f, const std::uint8_t* begin, const std::uint8_t* end,
           const std::uint8_t* frame_end) {
    auto inside = [&](const void* p, std::size_t n, const std::uint8_t* limit) {
        const auto* b = static_cast<const std::uint8_t*>(p);
        return b >= begin && b + n <= limit;
    };
    auto l4_ok = [&](std::size_t header) {
        return inside(f.l4, header, end) && header <= f.l4_length &&
               inside(f.l4, f.l4_length, frame_end);
    };
    switch (f.kind) {
    case FrameKind::tcp:
    case FrameKind::udp:
        if (!l4_ok(f.kind == FrameKind::tcp ? sizeof(rte_tcp_hdr) : 8))
            std::abort();
        [[fallthrough]];
    case FrameKind::icmp:
    case FrameKind::vrrp:
        if (!inside(f.ip, sizeof(rte_ipv4_hdr), end))
            std::abort();
        break;
    case FrameKind::tcp6:
    case FrameKind::udp6:
        if (!l4_ok(f.kind == FrameKind::tcp6 ? sizeof(rte_tcp_hdr) : 8) ||
            f.key6.protocol != (f.kind == FrameKind::tcp6 ? IPPROTO_TCP : IPPROTO_UDP) ||
            std::memcmp(f.key6.src, f.ip6->src_addr, 16) != 0)
            std::abort();
        [[fallthrough]];
    case FrameKind::icmp6:
        if (!inside(f.ip6, sizeof(rte_ipv6_hdr), end) || !l4_ok(4) ||
            f.l4 < reinterpret_cast<const std::uint8_t*>(f.ip6 + 1) || f.ip != nullptr)
            std::abort();
        break;
    default:
        break;
    }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    lb::fuzz::start_eal();
    pool = rte_pktmbuf_pool_create("fuzz_parser", 63, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    if (!pool)
        std::abort();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > RTE_MBUF_DEFAULT_DATAROOM)
        return 0;
    rte_mbuf* m = segment(data, size);
    ParsedFrame f;
    parse_frame(m, f);
    const auto* begin = rte_pktmbuf_mtod(m, const std::uint8_t*);
    check(f, begin, begin + size, begin + size);
    release(m);

    if (size >= 2) {
        const std::size_t cut = data[size - 1] % size; // 0 .. size - 1
        m = segment(data, cut);
        rte_mbuf* tail = segment(data + cut, size - cut);
        if (rte_pktmbuf_chain(m, tail) != 0)
            std::abort();
        ParsedFrame g;
        parse_frame(m, g);
        begin = rte_pktmbuf_mtod(m, const std::uint8_t*);
        // Headers in the first segment; the upper layer may go on in the second: its length is
        // checked as an offset into the whole frame.
        check(g, begin, begin + cut, begin + size);
        release(m);
    }
    if (rte_mempool_avail_count(pool) != 63)
        std::abort();
    return 0;
}
