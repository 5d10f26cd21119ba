// The EAL command line: `dpdk.eal_args`, then the arguments given after `--`, then defaults
// for what neither set (one lcore per worker plus the main lcore, floating over the CPUs this
// process may use, so a two-core test box can run two workers and the control thread), and a
// deeper receive ring for net_af_packet devices that do not size theirs (see below).
#pragma once

#include <string>
#include <vector>

namespace lb::app {

std::vector<std::string> eal_arguments(const std::vector<std::string>& from_config,
                                       const std::vector<std::string>& from_command_line,
                                       unsigned workers, const std::vector<int>& allowed_cpus);

std::vector<int> allowed_cpus();

// net_af_packet's own default ring is 512 frames: at 1 Gb/s of full-size frames that is 6 ms,
// shorter than a worker sharing its CPU is sometimes descheduled. When the ring overflows, the
// kernel drops frames before any worker can tell the node's own (health checks, VRRP) from
// forwarded traffic, and DPDK 22.11's af_packet does not count them. A --vdev of net_af_packet
// (or eth_af_packet) without framecnt= gets this many frames per ring (8 MiB of kernel memory
// per queue and direction with the default 2 KiB frames).
constexpr unsigned af_packet_default_frames = 4096;
std::string with_af_packet_ring(const std::string& vdev);

} // namespace lb::app
