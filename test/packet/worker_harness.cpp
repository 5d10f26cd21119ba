#include "test/packet/worker_harness.hpp"

#include <stdexcept>

#include <rte_ring.h>

namespace lb::test {

namespace {

dataplane::DataplaneSizes harness_sizes(std::uint32_t connections) {
    // Several harnesses live in one process (one per test case): their DPDK names must differ.
    static int instance = 0;
    dataplane::DataplaneSizes sizes;
    sizes.workers = 1;
    sizes.packet_buffers = 4095;
    sizes.packet_buffer_cache = 0;
    sizes.connections = connections;
    sizes.reply_keys = true;
    sizes.persistence_templates = 1024;
    sizes.ftp_sessions = 64;
    sizes.session_events =
        true; // events are collected (sync_events()), as lb's control thread does
    sizes.sync_events_per_worker = 4096;
    sizes.name_prefix = "h" + std::to_string(instance++) + "_";
    return sizes;
}

} // namespace

WorkerHarness::WorkerHarness(const std::string& yaml, std::uint32_t capacity, bool kernel_path)
    : config(config_from(yaml)), dataplane(harness_sizes(capacity)) {
    snapshot = control::build_snapshot(config, fake_ports(config.interfaces.size(), kernel_path),
                                       dataplane.neighbours(), registry, nullptr, 1);
    dataplane.publish(*snapshot);
}

void WorkerHarness::republish(const std::string& yaml, const control::health::DownSet* down) {
    config = config_from(yaml);
    auto next = control::build_snapshot(config, fake_ports(config.interfaces.size()),
                                        dataplane.neighbours(), registry, snapshot.get(),
                                        snapshot->generation + 1, down);
    dataplane.publish(*next);
    retired_snapshots.push_back(std::move(snapshot));
    snapshot = std::move(next);
}

std::vector<std::uint32_t> WorkerHarness::sync_events() {
    std::vector<std::uint32_t> out(4096);
    const unsigned n = rte_ring_sc_dequeue_burst_elem(dataplane.sync_events(0), out.data(),
                                                      sizeof(std::uint32_t), 4096, nullptr);
    out.resize(n);
    return out;
}

void WorkerHarness::resolve(std::uint32_t address, Mac mac, std::uint8_t interface) {
    dataplane.neighbours().learn(rte_cpu_to_be_32(address), interface, mac.addr(), 0);
}

std::vector<Sent> WorkerHarness::send(const std::vector<Bytes>& frames, std::uint8_t ingress,
                                      std::uint32_t now) {
    std::vector<rte_mbuf*> mbufs;
    for (const auto& f : frames) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool());
        if (!m)
            throw std::runtime_error("mbuf pool exhausted");
        char* data = rte_pktmbuf_append(m, static_cast<std::uint16_t>(f.size()));
        if (!f.empty()) // an empty vector's data() may be null: memcpy from null is UB
            std::memcpy(data, f.data(), f.size());
        m->ol_flags = rx_ol_flags;
        if (before_process)
            before_process(m);
        mbufs.push_back(m);
    }
    dataplane.worker(0).process(mbufs.data(), static_cast<std::uint16_t>(mbufs.size()), ingress,
                                now);
    std::vector<Sent> out;
    for (std::uint8_t i = 0; i < snapshot->interfaces.size(); ++i) {
        auto& batch = dataplane.worker(0).tx(i);
        for (std::uint16_t k = 0; k < batch.count; ++k) {
            rte_mbuf* m = batch.frames[k];
            const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
            out.push_back({i, Bytes(p, p + rte_pktmbuf_pkt_len(m))});
            rte_pktmbuf_free(m);
        }
        batch.count = 0;
        auto& kernel = dataplane.worker(0).kernel_tx(i);
        for (std::uint16_t k = 0; k < kernel.count; ++k) {
            rte_mbuf* m = kernel.frames[k];
            const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
            out.push_back({i, Bytes(p, p + rte_pktmbuf_pkt_len(m)), true});
            rte_pktmbuf_free(m);
        }
        kernel.count = 0;
    }
    return out;
}

std::uint64_t WorkerHarness::total_drops() const {
    std::uint64_t t = 0;
    for (const auto& d : counters().drops)
        t += d.read();
    return t;
}

} // namespace lb::test
