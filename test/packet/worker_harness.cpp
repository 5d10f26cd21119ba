#include "test/packet/worker_harness.hpp"

#include <stdexcept>

namespace lb::test {

rte_mempool* test_pool() {
    static rte_mempool* pool = [] {
        rte_mempool* p =
            rte_pktmbuf_pool_create("packet_tests", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
        if (!p)
            throw std::runtime_error("cannot create the test mbuf pool");
        return p;
    }();
    return pool;
}

WorkerHarness::WorkerHarness(const std::string& yaml, std::uint32_t capacity, bool kernel_path)
    : config(config_from(yaml)) {
    static int instance = 0;
    const std::string suffix = std::to_string(instance++);
    snapshot = control::build_snapshot(config, fake_ports(config.interfaces.size(), kernel_path),
                                       neighbours, registry, nullptr, 1);
    connections = std::make_unique<dataplane::ConnectionTable>(capacity, true, nullptr, 0,
                                                               ("pc" + suffix).c_str());
    templates =
        std::make_unique<dataplane::PersistenceTable>(1024, nullptr, 0, ("pp" + suffix).c_str());
    ftp_states = std::make_unique<dataplane::FtpStateTable>(64, nullptr, 0, "pf" + suffix);
    context.ftp_states = ftp_states.get();
    context.snapshot.store(snapshot.get());
    context.connections = connections.get();
    context.templates = templates.get();
    context.neighbours = &neighbours;
    context.load = &load;
    counters_ = std::make_unique<dataplane::WorkerCounters>();
    worker_ = std::make_unique<dataplane::Worker>(context, 0, *counters_);
}

void WorkerHarness::republish(const std::string& yaml, const control::health::DownSet* down) {
    config = config_from(yaml);
    auto next = control::build_snapshot(config, fake_ports(config.interfaces.size()), neighbours,
                                        registry, snapshot.get(), snapshot->generation + 1, down);
    context.snapshot.store(next.get());
    retired_snapshots.push_back(std::move(snapshot));
    snapshot = std::move(next);
}

void WorkerHarness::resolve(std::uint32_t address, Mac mac, std::uint8_t interface) {
    neighbours.learn(rte_cpu_to_be_32(address), interface, mac.addr(), 0);
}

std::vector<Sent> WorkerHarness::send(const std::vector<Bytes>& frames, std::uint8_t ingress,
                                      std::uint32_t now) {
    std::vector<rte_mbuf*> mbufs;
    for (const auto& f : frames) {
        rte_mbuf* m = rte_pktmbuf_alloc(test_pool());
        if (!m)
            throw std::runtime_error("mbuf pool exhausted");
        char* data = rte_pktmbuf_append(m, static_cast<std::uint16_t>(f.size()));
        if (!f.empty()) // an empty vector's data() may be null: memcpy from null is UB
            std::memcpy(data, f.data(), f.size());
        mbufs.push_back(m);
    }
    worker_->process(mbufs.data(), static_cast<std::uint16_t>(mbufs.size()), ingress, now);
    std::vector<Sent> out;
    for (std::uint8_t i = 0; i < snapshot->interfaces.size(); ++i) {
        auto& batch = worker_->tx(i);
        for (std::uint16_t k = 0; k < batch.count; ++k) {
            rte_mbuf* m = batch.frames[k];
            const auto* p = rte_pktmbuf_mtod(m, const std::uint8_t*);
            out.push_back({i, Bytes(p, p + rte_pktmbuf_pkt_len(m))});
            rte_pktmbuf_free(m);
        }
        batch.count = 0;
        auto& kernel = worker_->kernel_tx(i);
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
    for (const auto& d : counters_->drops)
        t += d.read();
    return t;
}

} // namespace lb::test
