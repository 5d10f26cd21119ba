// The real Worker on arbitrary frames, through the packet-test harness: NAT with the FTP helper,
// DR with a port-range group and persistence, Maglev adoption, resets, UDP. Whatever arrives,
// the worker must not crash, and every mbuf it was given must be sent or freed (the pool is full
// again after each input).
//
// Input: records of [flags][length high][length low][frame bytes]. flags bit 0: arrives on the
// inside interface; bit 1: leave the IPv4 header checksum as it is (otherwise it is fixed, so
// that the fuzzer gets past it); bit 2: the burst ends after this frame; bits 4-7: milliseconds
// (× 256) that pass before this frame.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <rte_ip.h>

#include "control/report/table_collector.hpp"
#include "test/fuzz/fuzz_eal.hpp"
#include "test/packet/worker_harness.hpp"

using namespace lb::test;

namespace {

const std::string fuzz_config = std::string(two_interfaces) + R"(services:
  - name: ftp-nat
    vip: 198.51.100.100
    port: 21
    scheduler: wlc
    real_servers:
      - {address: 203.0.113.11}
      - {address: 203.0.113.12}
  - name: web-mh
    vip: 198.51.100.101
    port: 80
    scheduler: mh
    maglev_table_size: 251
    real_servers:
      - {address: 203.0.113.11, port: 8080}
      - {address: 203.0.113.12, port: 8080}
  - name: ftp-dr
    vip: 198.51.100.102
    ports: [21, 20, "10000-10100"]
    forwarding: dr
    scheduler: rr
    persistence: {timeout: 60s}
    real_servers:
      - {address: 203.0.113.11}
      - {address: 203.0.113.12}
  - name: reset
    vip: 198.51.100.103
    port: 443
    scheduler: sh
    on_failure: reset
    real_servers:
      - {address: 203.0.113.11}
  - name: dns
    vip: 198.51.100.103
    protocol: udp
    port: 53
    scheduler: rr
    real_servers:
      - {address: 203.0.113.12}
  - name: tunnel
    vip: 198.51.100.104
    port: 80
    forwarding: tunnel
    real_servers:
      - {address: 203.0.113.11}
)";

} // namespace

// One harness for the whole run: building tables and a snapshot per input cost ~5 ms, which
// left the fuzzer at a few hundred inputs a second. After each input every table is swept with
// a clock far in the future, so the next input starts from empty tables as a fresh one would
// (only the round-robin cursors carry over).
WorkerHarness* harness = nullptr;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    lb::fuzz::start_eal();
    harness = new WorkerHarness(fuzz_config, 256);
    harness->resolve(ipv4(203, 0, 113, 11), rs1_mac, 1);
    harness->resolve(ipv4(203, 0, 113, 12), rs2_mac, 1);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::vector<Bytes> burst;
    std::uint32_t now = 1000;
    std::uint8_t ingress = 0;
    std::size_t frames = 0;
    auto flush = [&] {
        if (!burst.empty())
            harness->send(burst, ingress, now);
        burst.clear();
    };
    std::size_t pos = 0;
    while (pos + 3 <= size && frames < 256) {
        const std::uint8_t flags = data[pos];
        std::size_t length = (std::size_t{data[pos + 1]} << 8) | data[pos + 2];
        pos += 3;
        length = std::min({length, size - pos, std::size_t{1514}});
        Bytes frame(data + pos, data + pos + length);
        pos += length;
        ++frames;
        const std::uint8_t frame_ingress = flags & 1;
        if (frame_ingress != ingress)
            flush();
        ingress = frame_ingress;
        if (const std::uint32_t later = static_cast<std::uint32_t>(flags >> 4) * 256; later != 0) {
            flush();
            now += later;
        }
        if (!(flags & 2) && frame.size() >= 14 + 20 && frame[12] == 0x08 && frame[13] == 0x00) {
            auto* ip = reinterpret_cast<rte_ipv4_hdr*>(frame.data() + 14);
            const std::size_t ihl = (frame[14] & 0x0f) * 4u;
            if (ihl >= 20 && 14 + ihl <= frame.size()) {
                ip->hdr_checksum = 0;
                ip->hdr_checksum = rte_ipv4_cksum(ip);
            }
        }
        burst.push_back(std::move(frame));
        if ((flags & 4) || burst.size() == 32)
            flush();
    }
    flush();
    if (rte_mempool_avail_count(harness->pool()) != harness->pool()->size)
        std::abort(); // a frame was neither sent nor freed
    // Everything expires far in the future (twice: templates outlive their connections by one
    // sweep); then no connection may be left and every server's live count must be back at 0:
    // a connection counted twice or never would skew lc/wlc for good.
    lb::control::report::TableCollector collector(harness->context());
    collector.sweep_all(now + (1u << 30));
    collector.sweep_all(now + (1u << 30) + 1);
    if (harness->dataplane.connections().size() != 0)
        std::abort();
    for (std::uint16_t rs = 0; rs < harness->snapshot->real_servers.size(); ++rs)
        if (harness->dataplane.load().get(rs) != 0)
            std::abort();
    return 0;
}
