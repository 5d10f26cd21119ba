// Catch2 runner. Tests of the dataplane's tables need the DPDK EAL (rte_hash, rte_ring, memory);
// it runs here without hugepages, PCI or shared files, so the unit tests need no root.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <rte_eal.h>

int main(int argc, char** argv) {
    const char* eal_argv[] = {
        "unit_tests", "--no-huge", "--no-pci", "--no-shconf",         "-m",
        "1024",       "-l",        "0",        "--log-level=*:error", nullptr};
    if (rte_eal_init(9, const_cast<char**>(eal_argv)) < 0)
        return 2;
    const int result = Catch::Session().run(argc, argv);
    rte_eal_cleanup();
    return result;
}
