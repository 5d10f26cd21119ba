#include <catch2/catch.hpp>

#include <map>

#include <rte_byteorder.h>

#include "dataplane/scheduler.hpp"
#include "test/test_config.hpp"

using namespace lb::dataplane;
using namespace lb::test;

namespace {

std::string service_with(const std::string& scheduler, const std::string& weights_yaml) {
    return std::string(two_interfaces) + R"(services:
  - name: s
    vip: 198.51.100.100
    port: 80
    scheduler: )" +
           scheduler + R"(
    real_servers:
)" + weights_yaml;
}

const char* three_to_one = R"(      - {address: 203.0.113.11, weight: 3}
      - {address: 203.0.113.12, weight: 1}
)";

FlowKey client(std::uint32_t ip, std::uint16_t port) {
    FlowKey k;
    k.src_ip = rte_cpu_to_be_32(ip);
    k.src_port = rte_cpu_to_be_16(port);
    k.dst_ip = rte_cpu_to_be_32(0xc6336464);
    k.dst_port = rte_cpu_to_be_16(80);
    k.protocol = 6;
    return k;
}

struct Fixture {
    explicit Fixture(const std::string& yaml)
        : config(config_from(yaml)),
          snapshot(lb::control::build_snapshot(config, fake_ports(2), neighbours, registry, nullptr,
                                               1)) {}
    std::map<int, int> picks(int n) {
        std::map<int, int> count;
        for (int i = 0; i < n; ++i)
            ++count[schedule(*snapshot, 0, client(0xc6336400u + i, 1000 + i), cursors, load)];
        return count;
    }
    lb::control::config::Config config;
    NeighbourTable neighbours;
    lb::control::IdentityRegistry registry;
    std::unique_ptr<Snapshot> snapshot;
    SchedulerCursors cursors;
    RealServerLoad load;
};

} // namespace

TEST_CASE("rr alternates and skips drained servers") {
    Fixture f(service_with("rr", R"(      - {address: 203.0.113.11}
      - {address: 203.0.113.12, weight: 0}
      - {address: 203.0.113.13}
)"));
    auto c = f.picks(100);
    CHECK(c[0] == 50);
    CHECK(c[1] == 0);
    CHECK(c[2] == 50);
}

TEST_CASE("wrr gives 3:1 for weights 3 and 1") {
    Fixture f(service_with("wrr", three_to_one));
    auto c = f.picks(400);
    CHECK(c[0] == 300);
    CHECK(c[1] == 100);
}

TEST_CASE("wrr with weights 5:3:2 over many rounds") {
    Fixture f(service_with("wrr", R"(      - {address: 203.0.113.11, weight: 500}
      - {address: 203.0.113.12, weight: 300}
      - {address: 203.0.113.13, weight: 200}
)"));
    auto c = f.picks(1000);
    CHECK(c[0] == 500);
    CHECK(c[1] == 300);
    CHECK(c[2] == 200);
}

TEST_CASE("lc picks the server with fewest connections; wlc weighs them") {
    Fixture lc(service_with("lc", three_to_one));
    lc.load.add(0, 5);
    lc.load.add(1, 2);
    CHECK(schedule(*lc.snapshot, 0, client(1, 1), lc.cursors, lc.load) == 1);
    Fixture wlc(service_with("wlc", three_to_one));
    wlc.load.add(0, 5); // 5/3 < 2/1
    wlc.load.add(1, 2);
    CHECK(schedule(*wlc.snapshot, 0, client(1, 1), wlc.cursors, wlc.load) == 0);
}

TEST_CASE("sh keeps a source on one server whatever its port; mh spreads its ports") {
    Fixture sh(service_with("sh", three_to_one));
    const int first = schedule(*sh.snapshot, 0, client(0x01020304, 1), sh.cursors, sh.load);
    for (std::uint16_t port = 2; port < 200; ++port)
        REQUIRE(schedule(*sh.snapshot, 0, client(0x01020304, port), sh.cursors, sh.load) == first);
    Fixture mh(service_with("mh", three_to_one));
    std::map<int, int> c;
    for (std::uint16_t port = 1; port < 2001; ++port)
        ++c[schedule(*mh.snapshot, 0, client(0x01020304, port), mh.cursors, mh.load)];
    CHECK(c[0] > 1300);
    CHECK(c[1] > 350);
}

TEST_CASE("no available server yields no_real_server") {
    Fixture f(service_with("rr", "      - {address: 203.0.113.11, weight: 0}\n"));
    CHECK(schedule(*f.snapshot, 0, client(1, 1), f.cursors, f.load) == no_real_server);
    Fixture m(service_with("mh", "      - {address: 203.0.113.11, weight: 0}\n"));
    CHECK(schedule(*m.snapshot, 0, client(1, 1), m.cursors, m.load) == no_real_server);
}
