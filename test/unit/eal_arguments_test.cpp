// net_af_packet rings (issue 10, 6b): the default ring dropped health-check answers under load.
#include <catch2/catch.hpp>

#include "lb/eal_arguments.hpp"

using lb::app::eal_arguments;
using lb::app::with_af_packet_ring;

TEST_CASE("an af_packet vdev without a ring size gets the deeper default") {
    CHECK(with_af_packet_ring("net_af_packet0,iface=ext0") ==
          "net_af_packet0,iface=ext0,framecnt=4096");
    CHECK(with_af_packet_ring("eth_af_packet1,iface=int0,qpairs=2") ==
          "eth_af_packet1,iface=int0,qpairs=2,framecnt=4096");
}

TEST_CASE("a ring size the operator chose, and other devices, are left alone") {
    CHECK(with_af_packet_ring("net_af_packet0,iface=ext0,framecnt=512") ==
          "net_af_packet0,iface=ext0,framecnt=512");
    CHECK(with_af_packet_ring("net_tap0,iface=t0") == "net_tap0,iface=t0");
    CHECK(with_af_packet_ring("net_memif0,role=server") == "net_memif0,role=server");
}

TEST_CASE("both spellings of --vdev, from the file and from the command line, are seen") {
    const auto args = eal_arguments({"--vdev=net_af_packet0,iface=ext0", "--no-pci"},
                                    {"--vdev", "net_af_packet1,iface=int0"}, 1, {0});
    CHECK(args[1] == "--vdev=net_af_packet0,iface=ext0,framecnt=4096");
    CHECK(args[2] == "--no-pci");
    CHECK(args[3] == "--vdev");
    CHECK(args[4] == "net_af_packet1,iface=int0,framecnt=4096");
}
