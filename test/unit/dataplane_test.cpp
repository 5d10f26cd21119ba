// Dataplane: the one wiring of pool, tables, rings and workers that lb, the packet tests, the
// benchmark and the fuzz targets share.
#include <catch2/catch.hpp>

#include <cerrno>

#include <rte_mempool.h>

#include "dataplane/dataplane.hpp"

using namespace lb::dataplane;

namespace {

DataplaneSizes small(const std::string& prefix) {
    DataplaneSizes sizes;
    sizes.workers = 2;
    sizes.packet_buffers = 1023;
    sizes.packet_buffer_cache = 0;
    sizes.connections = 256;
    sizes.persistence_templates = 128;
    sizes.ftp_sessions = 16;
    sizes.name_prefix = prefix;
    return sizes;
}

} // namespace

TEST_CASE("a dataplane wires every table, ring and worker into its context") {
    DataplaneSizes sizes = small("dp_a_");
    sizes.idle_backoff = false;
    Dataplane d(sizes);
    const DataplaneContext& c = d.context();
    CHECK(c.connections == &d.connections());
    CHECK(c.templates == &d.templates());
    CHECK(c.ftp_states == &d.ftp_states());
    CHECK(c.neighbours == &d.neighbours());
    CHECK(c.load == &d.load());
    CHECK(c.rcu != nullptr);
    CHECK(c.control_tx != nullptr);
    CHECK(c.control_rx == nullptr); // no VRRP: its advertisements are dropped
    CHECK_FALSE(c.idle_backoff);
    CHECK(c.snapshot.load() == nullptr); // until the first publish
    CHECK(d.worker_count() == 2);
    CHECK(d.counters().size() == 2);
    CHECK(&d.counters(1) == d.counters()[1]);
    CHECK(d.pool()->size == 1023);
    CHECK(rte_mempool_avail_count(d.pool()) == 1023);
    CHECK(d.connections().capacity() == 256);
}

TEST_CASE("with VRRP the workers get a ring to the control thread") {
    DataplaneSizes sizes = small("dp_v_");
    sizes.control_frames = true;
    Dataplane d(sizes);
    CHECK(d.context().control_rx != nullptr);
    CHECK(d.context().control_rx != d.context().control_tx);
}

TEST_CASE("publishing a snapshot with no worker online returns at once") {
    Dataplane d(small("dp_p_"));
    Snapshot first;
    Snapshot second;
    d.publish(first);
    CHECK(d.context().snapshot.load() == &first);
    d.publish(second);
    CHECK(d.context().snapshot.load() == &second);
    d.stop(); // never launched: nothing to wait for
}

TEST_CASE("a dataplane that cannot be built says why and gives back what it took") {
    DataplaneSizes too_large = small("dp_f_");
    too_large.connections = 0xfffffff0u; // far beyond the EAL's memory
    CHECK_THROWS_WITH(Dataplane(too_large), Catch::Contains("tables.connections"));
    // The pool and the RCU it had made are gone: their names are free again.
    Dataplane again(small("dp_f_"));
    CHECK(again.pool() != nullptr);
    // Two dataplanes under one prefix cannot both exist.
    CHECK_THROWS_WITH(Dataplane(small("dp_f_")), Catch::Contains("packet buffer pool"));
}

TEST_CASE("a packet buffer pool that cannot be made blames what is missing") {
    // The driver is looked up among those loaded: the ring driver is, here.
    CHECK(mempool_ops_registered("ring_mp_mc"));
    CHECK_FALSE(mempool_ops_registered("no_such_ops"));
    // No driver for the pool's ops (librte-mempool-ring23 not installed): rte_errno is EINVAL,
    // and hugepages are not the cause.
    const std::string missing = packet_pool_failure(EINVAL, "ring_mp_mc", false);
    CHECK_THAT(missing, Catch::Contains("mempool driver 'ring_mp_mc' is not loaded") &&
                            Catch::Contains("librte-mempool-ring23") && Catch::Contains("-d PATH"));
    CHECK_THAT(missing, !Catch::Contains("hugepages"));
    // Out of memory: hugepages.
    CHECK_THAT(packet_pool_failure(ENOMEM, "ring_mp_mc", true),
               Catch::Contains("reserve hugepages") && !Catch::Contains("mempool driver"));
    // Anything else is said as it is.
    CHECK(packet_pool_failure(EEXIST, "ring_mp_mc", true) ==
          "cannot create the packet buffer pool: File exists");
}
