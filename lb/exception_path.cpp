#include "lb/exception_path.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <rte_dev.h>
#include <rte_ethdev.h>

#include "lb/ports.hpp"

namespace lb::app {

namespace {

sockaddr_in inet(std::uint32_t host_order) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(host_order);
    return a;
}

// Address, netmask, up, and the gateway as default route, on the tap's kernel side.
void configure_kernel_side(const control::config::Interface& iface) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error(
            fmt::format("interface '{}': socket: {}", iface.name, std::strerror(errno)));
    auto fail = [&](const char* what) {
        const int e = errno;
        ::close(fd);
        throw std::runtime_error(fmt::format("interface '{}': configuring kernel interface {} "
                                             "({}): {}",
                                             iface.name, iface.kernel_name, what,
                                             std::strerror(e)));
    };
    ifreq req{};
    std::strncpy(req.ifr_name, iface.kernel_name.c_str(), IFNAMSIZ - 1);
    const sockaddr_in address = inet(iface.address);
    std::memcpy(&req.ifr_addr, &address, sizeof(address));
    if (::ioctl(fd, SIOCSIFADDR, &req) != 0)
        fail("address");
    const sockaddr_in mask = inet(iface.netmask());
    std::memcpy(&req.ifr_netmask, &mask, sizeof(mask));
    if (::ioctl(fd, SIOCSIFNETMASK, &req) != 0)
        fail("netmask");
    if (::ioctl(fd, SIOCGIFFLAGS, &req) != 0)
        fail("flags");
    req.ifr_flags |= IFF_UP;
    if (::ioctl(fd, SIOCSIFFLAGS, &req) != 0)
        fail("up");
    if (iface.gateway) {
        rtentry route{};
        const sockaddr_in any = inet(0);
        const sockaddr_in gateway = inet(*iface.gateway);
        std::memcpy(&route.rt_dst, &any, sizeof(any));
        std::memcpy(&route.rt_genmask, &any, sizeof(any));
        std::memcpy(&route.rt_gateway, &gateway, sizeof(gateway));
        route.rt_flags = RTF_UP | RTF_GATEWAY;
        route.rt_dev = const_cast<char*>(iface.kernel_name.c_str());
        if (::ioctl(fd, SIOCADDRT, &route) != 0 && errno != EEXIST)
            fail("default route");
    }
    ::close(fd);
    // IPv4 only: keep the kernel from sending IPv6 chatter out of the data port.
    std::ofstream(fmt::format("/proc/sys/net/ipv6/conf/{}/disable_ipv6", iface.kernel_name))
        << "1\n";
}

} // namespace

void start_exception_path(const control::config::Config& config, unsigned workers,
                          rte_mempool* pool, std::vector<control::PortBinding>& ports) {
    for (std::size_t i = 0; i < config.interfaces.size(); ++i) {
        const auto& iface = config.interfaces[i];
        if (!iface.kernel)
            continue;
        const std::string name = fmt::format("net_tap_lb{}", i);
        const std::string devargs =
            fmt::format("{},iface={},mac={}", name, iface.kernel_name, mac_text(ports[i].mac));
        if (int rc = rte_dev_probe(devargs.c_str()); rc != 0)
            throw std::runtime_error(
                fmt::format("interface '{}': cannot create the kernel exception path ({}): {} (is "
                            "/dev/net/tun there? set kernel: false to do without)",
                            iface.name, devargs, rte_strerror(-rc)));
        std::uint16_t port = 0;
        if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0)
            throw std::runtime_error(
                fmt::format("interface '{}': {} did not appear", iface.name, name));
        rte_eth_conf conf{};
        const auto q = static_cast<std::uint16_t>(workers);
        if (int rc = rte_eth_dev_configure(port, q, q, &conf); rc != 0)
            throw std::runtime_error(fmt::format("interface '{}': configuring {}: {}", iface.name,
                                                 name, rte_strerror(-rc)));
        for (std::uint16_t k = 0; k < q; ++k) {
            if (int rc = rte_eth_rx_queue_setup(port, k, 512, rte_eth_dev_socket_id(port), nullptr,
                                                pool);
                rc != 0)
                throw std::runtime_error(fmt::format("interface '{}': {} RX queue: {}", iface.name,
                                                     name, rte_strerror(-rc)));
            if (int rc = rte_eth_tx_queue_setup(port, k, 512, rte_eth_dev_socket_id(port), nullptr);
                rc != 0)
                throw std::runtime_error(fmt::format("interface '{}': {} TX queue: {}", iface.name,
                                                     name, rte_strerror(-rc)));
        }
        if (int rc = rte_eth_dev_start(port); rc != 0)
            throw std::runtime_error(fmt::format("interface '{}': starting {}: {}", iface.name,
                                                 name, rte_strerror(-rc)));
        ports[i].kernel_port = port;
        configure_kernel_side(iface);
    }
}

} // namespace lb::app
