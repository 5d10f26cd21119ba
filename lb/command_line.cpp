// lb --config FILE [--check [--hardware]] [--version] [-- EAL arguments]: the command line, shared
// by lb's main (lb/main.cpp) and the test builds' (test/tools).
#include "lb/app.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <rte_version.h>

#include "control/admin_socket.hpp"
#include "control/config/loader.hpp"
#include "lb/app.hpp"
#include "lb/hardware_check.hpp"
#include "lb/journal_stderr.hpp"

namespace po = boost::program_options;

namespace lb::app {

int run_command_line(int argc, char** argv, const LoopHooks& hooks) {
    // Before anything logs or any thread starts: under systemd, lines get journal priorities.
    lb::app::prefix_stderr_for_journal();
    // Everything after `--` goes to the DPDK EAL untouched.
    std::vector<std::string> own_args;
    std::vector<std::string> eal_args;
    bool after_separator = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (!after_separator && a == "--") {
            after_separator = true;
            continue;
        }
        (after_separator ? eal_args : own_args).push_back(std::move(a));
    }

    po::options_description options("Usage: lb --config FILE [--check [--hardware]] [--version] "
                                    "[-- EAL arguments]\n\nOptions");
    options.add_options()("config,c", po::value<std::string>()->value_name("FILE"),
                          "the YAML configuration")(
        "check", "validate the configuration and exit: 0 when valid, 1 with every error as "
                 "FILE:LINE:COLUMN: message")(
        "hardware", "with --check: also say what this box lacks to run the configuration "
                    "(hugepages, hugetlbfs, NICs bound to vfio-pci, IOMMU, CPU isolation); exit "
                    "1 when something is missing")("version", "print the version and exit")(
        "help,h", "print this help");
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(own_args).options(options).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        fmt::print(stderr, "lb: {}\n", e.what());
        std::cerr << options << '\n';
        return 2;
    }
    if (vm.count("help")) {
        std::cout << options << '\n';
        return 0;
    }
    if (vm.count("version")) {
        fmt::print("lb {} ({})\n", LB_VERSION, rte_version());
        return 0;
    }
    if (vm.count("hardware") && !vm.count("check")) {
        fmt::print(stderr,
                   "lb: --hardware goes with --check: lb --config FILE --check --hardware\n");
        return 2;
    }
    if (!vm.count("config")) {
        fmt::print(stderr, "lb: --config FILE is required\n");
        std::cerr << options << '\n';
        return 2;
    }
    const std::string path = vm["config"].as<std::string>();
    auto loaded = lb::control::config::load_config_file(path);
    if (!loaded.config) {
        for (const auto& line : lb::control::config::format_diagnostics(path, loaded.diagnostics))
            fmt::print(stderr, "{}\n", line);
        fmt::print(stderr, "lb: {} has {} error(s); nothing was started\n", path,
                   loaded.diagnostics.size());
        return 1;
    }
    if (vm.count("check")) {
        fmt::print("{}: OK ({} service(s), {} interface(s))\n", path,
                   loaded.config->services.size(), loaded.config->interfaces.size());
        if (!vm.count("hardware"))
            return 0;
        std::vector<std::string> all_eal = loaded.config->dpdk.eal_args;
        all_eal.insert(all_eal.end(), eal_args.begin(), eal_args.end());
        // LB_HARDWARE_ROOT: look at another tree than / (the tests' fake sysfs, or a system
        // mounted elsewhere).
        const char* root = std::getenv("LB_HARDWARE_ROOT");
        return lb::app::print_hardware_findings(
            lb::app::check_hardware(*loaded.config, all_eal, root ? root : "/"));
    }
    try {
        // Before the EAL and the ports: a second lb on the same admin socket stops here.
        lb::control::check_admin_socket_free(loaded.config->admin.socket);
        return lb::app::run(*loaded.config, path, eal_args, hooks);
    } catch (const std::exception& e) {
        fmt::print(stderr, "lb: error: {}\n", e.what());
        return 1;
    }
}

} // namespace lb::app
