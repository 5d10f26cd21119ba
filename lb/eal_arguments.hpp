// The EAL command line: `dpdk.eal_args`, then the arguments given after `--`, then defaults
// for what neither set (one lcore per worker plus the main lcore, floating over the CPUs this
// process may use, so a two-core test box can run two workers and the control thread).
#pragma once

#include <string>
#include <vector>

namespace lb::app {

std::vector<std::string> eal_arguments(const std::vector<std::string>& from_config,
                                       const std::vector<std::string>& from_command_line,
                                       unsigned workers, const std::vector<int>& allowed_cpus);

std::vector<int> allowed_cpus();

} // namespace lb::app
