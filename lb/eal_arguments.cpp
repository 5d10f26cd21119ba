#include "lb/eal_arguments.hpp"

#include <sched.h>

#include <algorithm>

#include <fmt/format.h>

namespace lb::app {

namespace {

bool names_lcores(const std::string& arg) {
    return arg == "-l" || arg == "-c" || arg.starts_with("--lcores") || arg.starts_with("-l") ||
           arg.starts_with("--coremask") || arg.starts_with("-c");
}

bool is_af_packet(const std::string& vdev) {
    return vdev.starts_with("net_af_packet") || vdev.starts_with("eth_af_packet");
}

} // namespace

std::string with_af_packet_ring(const std::string& vdev) {
    if (!is_af_packet(vdev) || vdev.find("framecnt=") != std::string::npos)
        return vdev;
    return fmt::format("{},framecnt={}", vdev, af_packet_default_frames);
}

std::vector<std::string> eal_arguments(const std::vector<std::string>& from_config,
                                       const std::vector<std::string>& from_command_line,
                                       unsigned workers, const std::vector<int>& cpus) {
    std::vector<std::string> args{"lb"};
    args.insert(args.end(), from_config.begin(), from_config.end());
    args.insert(args.end(), from_command_line.begin(), from_command_line.end());
    for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i].starts_with("--vdev="))
            args[i] = "--vdev=" + with_af_packet_ring(args[i].substr(7));
        else if (args[i] == "--vdev" && i + 1 < args.size())
            args[i + 1] = with_af_packet_ring(args[i + 1]);
    }
    const bool has_lcores = std::any_of(args.begin() + 1, args.end(), names_lcores);
    if (!has_lcores && !cpus.empty()) {
        std::string cpu_list;
        for (int c : cpus)
            cpu_list += (cpu_list.empty() ? "" : ",") + std::to_string(c);
        args.push_back(fmt::format("--lcores=(0-{})@({})", workers, cpu_list));
    }
    return args;
}

std::vector<int> allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return cpus;
    for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set))
            cpus.push_back(c);
    return cpus;
}

} // namespace lb::app
