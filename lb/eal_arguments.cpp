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

} // namespace

std::vector<std::string> eal_arguments(const std::vector<std::string>& from_config,
                                       const std::vector<std::string>& from_command_line,
                                       unsigned workers, const std::vector<int>& cpus) {
    std::vector<std::string> args{"lb"};
    args.insert(args.end(), from_config.begin(), from_config.end());
    args.insert(args.end(), from_command_line.begin(), from_command_line.end());
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
