#include <catch2/catch.hpp>

#include <cstdlib>

#include <rte_byteorder.h>
#include <rte_rcu_qsbr.h>

#include "control/report/table_collector.hpp"
#include "dataplane/connection_table.hpp"

using namespace lb::dataplane;

namespace {

ConnectionSpec prototype(std::uint32_t client, std::uint16_t port, bool nat) {
    ConnectionSpec c;
    c.key.src_ip = rte_cpu_to_be_32(client);
    c.key.dst_ip = rte_cpu_to_be_32(0xc6336464);
    c.key.src_port = rte_cpu_to_be_16(port);
    c.key.dst_port = rte_cpu_to_be_16(80);
    c.key.protocol = 6;
    c.rs_address = rte_cpu_to_be_32(0xcb00710b);
    c.rs_port = rte_cpu_to_be_16(8080);
    c.flags = nat ? conn_nat : 0;
    return c;
}

} // namespace

TEST_CASE("connections are found by their client key and, in NAT, by their reply key") {
    ConnectionTable t(1024, true, nullptr, 0, "ct_lookup");
    const ConnectionSpec p = prototype(0xc633640a, 40000, true);
    std::uint32_t index = 0;
    REQUIRE(t.insert(p, TcpState::none, 0, 1000, &index) == InsertResult::inserted);
    auto hit = t.lookup(p.key);
    REQUIRE(hit);
    CHECK(hit->index == index);
    CHECK(hit->direction == KeyDirection::from_client);
    auto reply = t.lookup(p.reply_key());
    REQUIRE(reply);
    CHECK(reply->index == index);
    CHECK(reply->direction == KeyDirection::from_real_server);
    CHECK_FALSE(t.lookup(prototype(0xc633640a, 40001, true).key));
    CHECK(t.size() == 1);

    const FlowKey* keys[3];
    FlowKey miss = prototype(1, 1, true).key;
    FlowKey reply_key = p.reply_key();
    keys[0] = &p.key;
    keys[1] = &miss;
    keys[2] = &reply_key;
    ConnectionHit hits[3];
    CHECK(t.lookup_bulk(keys, 3, hits) == 0b101);
}

TEST_CASE("a NAT reply tuple already in use refuses the new connection") {
    ConnectionTable t(1024, true, nullptr, 0, "ct_conflict");
    ConnectionSpec a = prototype(0xc633640a, 40000, true);
    REQUIRE(t.insert(a, TcpState::none, 0, 1000) == InsertResult::inserted);
    ConnectionSpec b = a; // same client endpoint to another VIP, same real server endpoint
    b.key.dst_ip = rte_cpu_to_be_32(0xc6336465);
    CHECK(t.insert(b, TcpState::none, 0, 1000) == InsertResult::reply_tuple_in_use);
    // The same flow again holds both keys already: it exists, nothing is in its way.
    CHECK(t.insert(a, TcpState::none, 0, 1000) == InsertResult::already_exists);
    CHECK(t.size() == 1);
}

namespace {

// A connection table swept by the control side's collector, as in lb.
struct SweptTable {
    explicit SweptTable(const std::string& name)
        : t(1024, false, nullptr, 0, ("ct_" + name).c_str()),
          templates(1024, nullptr, 0, ("pt_" + name).c_str()) {
        ctx.connections = &t;
        ctx.templates = &templates;
        ctx.load = &load;
    }
    lb::dataplane::DataplaneContext ctx;
    ConnectionTable t;
    PersistenceTable templates;
    RealServerLoad load;
    lb::control::report::TableCollector collector{ctx};
};

} // namespace

TEST_CASE("connections expire after their timeout and free their slot") {
    SweptTable swept("expire");
    auto& [ctx, t, templates, load, collector] = swept;
    const ConnectionSpec p = prototype(0xc633640a, 40000, false);
    REQUIRE(t.insert(p, TcpState::none, 100, 1000) == InsertResult::inserted);
    load.add(0, 1);
    collector.sweep_all(1100); // exactly the timeout: not yet
    CHECK(t.lookup(p.key));
    // Traffic refreshes it.
    t.at(t.lookup(p.key)->index).touch(1050);
    collector.sweep_all(2000);
    CHECK(t.lookup(p.key));
    collector.sweep_all(2051);
    CHECK_FALSE(t.lookup(p.key));
    CHECK(t.size() == 0);
    CHECK(load.get(0) == 0);
    CHECK(collector.expired_connections() == 1);
}

TEST_CASE("a full table refuses new connections and keeps the existing ones") {
    ConnectionTable t(1024, false, nullptr, 0, "ct_full");
    for (std::uint32_t i = 0; i < 1024; ++i)
        REQUIRE(t.insert(prototype(0x0a000000 + i, 1000, false), TcpState::none, 0, 1000) ==
                InsertResult::inserted);
    CHECK(t.insert(prototype(0x0b000000, 1000, false), TcpState::none, 0, 1000) ==
          InsertResult::table_full);
    for (std::uint32_t i = 0; i < 1024; ++i)
        REQUIRE(t.lookup(prototype(0x0a000000 + i, 1000, false).key));
    // Removing one makes room again (after reclaim: no readers registered here).
    t.remove(t.lookup(prototype(0x0a000000, 1000, false).key)->index);
    CHECK(t.insert(prototype(0x0b000000, 1000, false), TcpState::none, 0, 1000) ==
          InsertResult::table_full);
    t.reclaim();
    CHECK(t.insert(prototype(0x0b000000, 1000, false), TcpState::none, 0, 1000) ==
          InsertResult::inserted);
}

TEST_CASE("retired entries wait for every worker's quiescent state") {
    const std::size_t size = rte_rcu_qsbr_get_memsize(1);
    auto* rcu = static_cast<rte_rcu_qsbr*>(aligned_alloc(64, (size + 63) / 64 * 64));
    REQUIRE(rte_rcu_qsbr_init(rcu, 1) == 0);
    rte_rcu_qsbr_thread_register(rcu, 0);
    rte_rcu_qsbr_thread_online(rcu, 0);
    {
        ConnectionTable t(1024, false, rcu, 0, "ct_rcu");
        const ConnectionSpec p = prototype(1, 1, false);
        REQUIRE(t.insert(p, TcpState::none, 0, 10) == InsertResult::inserted);
        t.remove(t.lookup(p.key)->index);
        CHECK(t.reclaim() == 0); // the reader has not passed a quiescent state
        rte_rcu_qsbr_quiescent(rcu, 0);
        CHECK(t.reclaim() == 1);
    }
    rte_rcu_qsbr_thread_offline(rcu, 0);
    rte_rcu_qsbr_thread_unregister(rcu, 0);
    free(rcu);
}

TEST_CASE("a second connection for a flow that exists is refused and leaves nothing behind") {
    ConnectionTable t(1024, true, nullptr, 0, "ct_dup");
    ConnectionSpec first = prototype(0xc633640a, 40000, true);
    REQUIRE(t.insert(first, TcpState::syn_sent, 0, 1000) == InsertResult::inserted);
    ConnectionSpec second = first; // same client key, another real server
    second.rs_address = rte_cpu_to_be_32(0xcb00710c);
    auto index = t.reserve();
    REQUIRE(index);
    CHECK(t.insert_reserved(*index, second, TcpState::syn_sent, 0, 1000) ==
          InsertResult::already_exists);
    CHECK(t.size() == 1);
    // Its reply key, briefly published, is gone again; the first connection is untouched.
    CHECK_FALSE(t.lookup(second.reply_key()));
    auto hit = t.lookup(first.key);
    REQUIRE(hit);
    CHECK(t.at(hit->index).rs_address == first.rs_address);
    CHECK(t.lookup(first.reply_key()));
    // The entry comes back to circulation after the grace period.
    CHECK(t.reclaim() == 1);
}

TEST_CASE("clock arithmetic: ages across the 32-bit wrap, and a `then` after `now` is fresh") {
    using lb::dataplane::age_ms;
    using lb::dataplane::expired;
    CHECK(age_ms(1000, 400) == 600);
    CHECK(age_ms(5, 0xfffffff0u) == 21); // wrapped
    CHECK_FALSE(expired(5, 0xfffffff0u, 100));
    CHECK(expired(200, 0xfffffff0u, 100));
    // A worker wrote a later time than the sweep read: not a huge age, no age at all.
    CHECK(age_ms(1000, 1005) == 0);
    CHECK_FALSE(expired(1000, 1005, 0));
    CHECK_FALSE(expired(0xfffffff0u, 3, 10)); // ahead, across the wrap
}

TEST_CASE("regression: a connection touched after the sweep read its clock is not expired") {
    // The sweep reads `now` once per tick; workers keep writing later times into last_seen.
    // uint32(now - then) used to wrap to a huge age, and the busiest connections were removed
    // in the middle of a transfer.
    SweptTable swept("ahead");
    auto& [ctx, t, templates, load, collector] = swept;
    const ConnectionSpec p = prototype(0xc633640b, 40001, false);
    REQUIRE(t.insert(p, TcpState::established, 1000, 900'000) == InsertResult::inserted);
    load.add(0, 1);
    t.at(t.lookup(p.key)->index).touch(1001); // the worker, a millisecond after the sweep's read
    collector.sweep_all(1000);
    CHECK(t.lookup(p.key));
    CHECK(collector.expired_connections() == 0);
    CHECK(load.get(0) == 1);
}
