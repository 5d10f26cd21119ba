#include "lb/app.hpp"

#include <cerrno>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "control/config/value_parsers.hpp"
#include "lb/balancer.hpp"
#include "lb/control_loop.hpp"
#include "lb/eal_arguments.hpp"
#include "lb/ports.hpp"

namespace lb::app {

namespace {

void initialise_eal(const control::config::Config& config, const std::vector<std::string>& extra) {
    std::vector<std::string> args =
        eal_arguments(config.dpdk.eal_args, extra, config.dpdk.workers, allowed_cpus());
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
        // ENODEV: a --vdev or -a that no bus could parse, mostly because the device's driver,
        // a plugin the EAL loads from its driver directory, is not installed.
        const int error = rte_errno;
        throw std::runtime_error(fmt::format(
            "DPDK EAL initialisation failed: {} (EAL arguments come from dpdk.eal_args and after "
            "--{})",
            rte_strerror(error),
            error == ENODEV ? "; a device there has no driver loaded: is its package installed, "
                              "librte-net-<driver>23 on Debian 12, e.g. librte-net-af-packet23 "
                              "for --vdev=net_af_packet0?"
                            : ""));
    }
    const unsigned lcores = rte_lcore_count();
    if (lcores < config.dpdk.workers + 1)
        throw std::runtime_error(fmt::format("dpdk.workers is {} but the EAL has {} lcores; it "
                                             "needs {} (the main lcore plus one per worker)",
                                             config.dpdk.workers, lcores, config.dpdk.workers + 1));
}

} // namespace

int run(const control::config::Config& config, const std::string& config_path,
        const std::vector<std::string>& extra_eal_args, const LoopHooks& hooks) {
    initialise_eal(config, extra_eal_args);
    int status = 0;
    try {
        Balancer balancer(config, config_path);
        for (std::size_t i = 0; i < config.interfaces.size(); ++i) {
            const auto& iface = config.interfaces[i];
            // "198.51.100.2/24", "2001:db8::2/64", or both.
            std::string addresses =
                iface.has_ipv4() ? iface.subnets(control::config::Family::ipv4) : "";
            if (!iface.ipv6_addresses.empty())
                addresses +=
                    (addresses.empty() ? "" : ", ") + iface.subnets(control::config::Family::ipv6);
            fmt::print(stderr, "lb: interface {} on {} (port {}, {}), {}\n", iface.name,
                       iface.device, balancer.ports()[i].port_id, mac_text(balancer.ports()[i].mac),
                       addresses);
        }
        balancer.start_workers();
        balancer.write_stats();
        // Said once lbctl can be answered: scripts (and our tests) wait for this line.
        const auto say_forwarding = [&] {
            fmt::print(stderr, "lb: {} forwarding with {} worker(s), {} service(s) from {}\n",
                       config.node_name, config.dpdk.workers, config.services.size(), config_path);
        };
        run_control_loop(balancer, say_forwarding, hooks);
        balancer.stop_workers();
        balancer.write_stats();
    } catch (const std::exception& e) {
        fmt::print(stderr, "lb: error: {}\n", e.what());
        status = 1;
    }
    rte_eal_cleanup();
    if (status == 0)
        fmt::print(stderr, "lb: stopped cleanly\n");
    return status;
}

} // namespace lb::app
