// `lb --config FILE --check --hardware`: what this box lacks to run FILE, in words a person can
// act on. Reads sysfs and procfs only (no DPDK, no root needed): hugepages reserved and free, a
// hugetlbfs mount, each interface's PCI device bound to a DPDK-capable driver, vfio-pci loaded
// and the IOMMU on, and notes on CPU isolation for the worker cores.
#pragma once

#include <string>
#include <vector>

#include "control/config/model.hpp"

namespace lb::app {

struct HardwareFinding {
    enum class Level { ok, note, missing };
    Level level;
    std::string text;
};

// `root` prefixes every /sys and /proc path ("/" on a real box; a fake tree in tests, or
// another system's mounted root: LB_HARDWARE_ROOT). `eal_args` are the EAL arguments lb would
// run with (dpdk.eal_args, then those after --).
std::vector<HardwareFinding> check_hardware(const control::config::Config& config,
                                            const std::vector<std::string>& eal_args,
                                            const std::string& root);

// "ok:      ...", "note:    ...", "missing: ..." one per line; returns 0 when nothing is
// missing, else 1.
int print_hardware_findings(const std::vector<HardwareFinding>& findings);

} // namespace lb::app
