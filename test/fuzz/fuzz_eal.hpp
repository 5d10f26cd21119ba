// The DPDK EAL for fuzz targets that need mbufs: no hugepages, no PCI, no shared files, quiet.
#pragma once

#include <cstdlib>

#include <rte_eal.h>
#include <rte_mbuf.h>

namespace lb::fuzz {

inline void start_eal() {
    static const bool started = [] {
        const char* argv[] = {"fuzz",        "--no-huge", "--no-pci",
                              "--no-shconf", "-m",        "512",
                              "-l",          "0",         "--log-level=*:critical",
                              nullptr};
        if (rte_eal_init(9, const_cast<char**>(argv)) < 0)
            std::abort();
        return true;
    }();
    (void)started;
}

} // namespace lb::fuzz
