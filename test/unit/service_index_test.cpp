// ServiceIndex: (VIP, protocol, port) to service with one probe sequence, and "is this a VIP?".
#include <catch2/catch.hpp>

#include <netinet/in.h>

#include "dataplane/service_index.hpp"

using lb::dataplane::ServiceIndex;

namespace {

constexpr std::uint32_t vip_a = 0x6464336c; // the index takes whatever order it is given
constexpr std::uint32_t vip_b = 0x6564336c;

} // namespace

TEST_CASE("an empty index finds nothing, built or not") {
    ServiceIndex never_built;
    CHECK(never_built.find(vip_a, IPPROTO_TCP, 80) == -1);
    CHECK_FALSE(never_built.is_vip(vip_a));
    ServiceIndex empty;
    empty.build();
    CHECK(empty.find(vip_a, IPPROTO_TCP, 80) == -1);
    CHECK_FALSE(empty.is_vip(0));
}

TEST_CASE("a service is found by its VIP, protocol and port together") {
    ServiceIndex index;
    index.add(vip_a, IPPROTO_TCP, 80, 0);
    index.add(vip_a, IPPROTO_UDP, 80, 1);
    index.add(vip_b, IPPROTO_TCP, 80, 2);
    index.build();
    CHECK(index.find(vip_a, IPPROTO_TCP, 80) == 0);
    CHECK(index.find(vip_a, IPPROTO_UDP, 80) == 1);
    CHECK(index.find(vip_b, IPPROTO_TCP, 80) == 2);
    CHECK(index.find(vip_a, IPPROTO_TCP, 81) == -1);
    CHECK(index.find(vip_b, IPPROTO_UDP, 80) == -1);
    CHECK(index.find(vip_a + 1, IPPROTO_TCP, 80) == -1);
    // Service ports do not make an address a VIP: add_vip does (ARP and ICMP answer for it).
    CHECK_FALSE(index.is_vip(vip_a));
}

TEST_CASE("add_vip marks an address as a VIP without claiming any port") {
    ServiceIndex index;
    index.add(vip_a, IPPROTO_TCP, 80, 3);
    index.add_vip(vip_a);
    index.add_vip(vip_b); // a removed service's VIP, still draining
    index.build();
    CHECK(index.is_vip(vip_a));
    CHECK(index.is_vip(vip_b));
    CHECK_FALSE(index.is_vip(vip_a + 1));
    CHECK(index.find(vip_a, IPPROTO_TCP, 80) == 3);
    CHECK(index.find(vip_b, IPPROTO_TCP, 80) == -1);
    CHECK(index.find(vip_a, IPPROTO_TCP, 0) == -1);
}

TEST_CASE("thousands of expanded ports are all found, and their neighbours are not") {
    // A port-range group is one entry per port: probing must stay exact with many collisions.
    ServiceIndex index;
    for (std::uint32_t port = 10000; port < 20000; ++port)
        index.add(vip_a, IPPROTO_TCP, static_cast<std::uint16_t>(port), 7);
    for (std::uint32_t vip = 0; vip < 500; ++vip)
        index.add(vip_b + vip * 65536, IPPROTO_UDP, 53, static_cast<std::uint16_t>(vip));
    index.build();
    int wrong = 0;
    for (std::uint32_t port = 10000; port < 20000; ++port)
        wrong += index.find(vip_a, IPPROTO_TCP, static_cast<std::uint16_t>(port)) != 7;
    for (std::uint32_t vip = 0; vip < 500; ++vip)
        wrong += index.find(vip_b + vip * 65536, IPPROTO_UDP, 53) != static_cast<int>(vip);
    CHECK(wrong == 0);
    CHECK(index.find(vip_a, IPPROTO_TCP, 9999) == -1);
    CHECK(index.find(vip_a, IPPROTO_TCP, 20000) == -1);
    CHECK(index.find(vip_a, IPPROTO_UDP, 10000) == -1);
}
