// Runs the real Worker code on crafted frames: builds a Snapshot from YAML and the dataplane
// (tables, pool, counters) as lb does, feeds frames to Worker::process and collects what it
// would transmit.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <rte_mbuf.h>

#include "dataplane/dataplane.hpp"
#include "test/packet/frame_builder.hpp"
#include "test/test_config.hpp"

namespace lb::test {

struct Sent {
    std::uint8_t interface;
    Bytes frame;
    bool to_kernel = false; // handed to the interface's kernel exception path
};

class WorkerHarness {
  public:
    explicit WorkerHarness(const std::string& yaml, std::uint32_t connections = 1024,
                           bool kernel_path = false);

    // Processes one burst of frames arriving on `ingress`; returns every frame queued for
    // transmission, in order. Frames the worker dropped are freed by it.
    std::vector<Sent> send(const std::vector<Bytes>& frames, std::uint8_t ingress = 0,
                           std::uint32_t now = 1000);
    std::vector<Sent> send(const Bytes& frame, std::uint8_t ingress = 0, std::uint32_t now = 1000) {
        return send(std::vector<Bytes>{frame}, ingress, now);
    }
    // Publishes a new snapshot built from `yaml`, as a reload will (the old one stays alive).
    void republish(const std::string& yaml, const control::health::DownSet* down = nullptr);
    // The replication events the worker emitted since the last call (dataplane/sync_events.hpp).
    std::vector<std::uint32_t> sync_events();
    // Tells the worker the MACs of the real servers and gateway, as their ARP replies would.
    void resolve(std::uint32_t address, Mac mac, std::uint8_t interface);

    std::uint64_t drops(dataplane::DropReason r) const {
        return counters().drops[static_cast<std::size_t>(r)].read();
    }
    std::uint64_t total_drops() const;
    const dataplane::WorkerCounters& counters() const { return dataplane.counters(0); }
    dataplane::DataplaneContext& context() { return dataplane.context(); }
    // The packet buffers frames are built in; full again whenever no frame is in flight.
    rte_mempool* pool() { return dataplane.pool(); }

    // What the NIC says of each frame send() hands over (its checksum verdicts).
    std::uint64_t rx_ol_flags = 0;
    // Called on each mbuf before the worker sees it: a test's way to make it as an unusual
    // device would (less headroom, say).
    std::function<void(rte_mbuf*)> before_process;

    control::config::Config config;
    control::IdentityRegistry registry;
    dataplane::Dataplane dataplane; // one worker, driven by hand: never launched
    std::unique_ptr<dataplane::Snapshot> snapshot;
    std::vector<std::unique_ptr<dataplane::Snapshot>> retired_snapshots;
};

} // namespace lb::test
