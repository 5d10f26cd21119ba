// parse_frame on arbitrary frames: whatever it accepts, the headers it points at lie inside the
// frame, and the lengths it reports agree with them.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include <rte_tcp.h>

#include "dataplane/packet_parser.hpp"
#include "test/fuzz/fuzz_eal.hpp"

using namespace lb::dataplane;

namespace {

rte_mempool* pool = nullptr;

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
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m)
        std::abort();
    if (size > 0)
        std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(size)), data, size);
    ParsedFrame f;
    parse_frame(m, f);
    const auto* begin = rte_pktmbuf_mtod(m, const std::uint8_t*);
    const auto* end = begin + size;
    auto inside = [&](const void* p, std::size_t n) {
        const auto* b = static_cast<const std::uint8_t*>(p);
        return b >= begin && b + n <= end;
    };
    switch (f.kind) {
    case FrameKind::tcp:
    case FrameKind::udp:
        if (!inside(f.l4, f.kind == FrameKind::tcp ? sizeof(rte_tcp_hdr) : 8) ||
            !inside(f.l4, f.l4_length))
            std::abort();
        [[fallthrough]];
    case FrameKind::icmp:
    case FrameKind::vrrp:
        if (!inside(f.ip, sizeof(rte_ipv4_hdr)))
            std::abort();
        break;
    default:
        break;
    }
    rte_pktmbuf_free(m);
    if (rte_mempool_avail_count(pool) != 63)
        std::abort();
    return 0;
}
