#include "lb/exception_path.hpp"

#include <arpa/inet.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

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

// Closes the ioctl socket and says which step failed, with errno's reason.
[[noreturn]] void failed_configuring(const control::config::Interface& iface, int fd,
                                     const std::string& what) {
    const int e = errno;
    ::close(fd);
    throw std::runtime_error(fmt::format("interface '{}': configuring kernel interface {} ({}): {}",
                                         iface.name, iface.kernel_name, what, std::strerror(e)));
}

// Address, netmask, up, and the gateway as default route, on the tap's kernel side.
void configure_kernel_side(const control::config::Interface& iface) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error(
            fmt::format("interface '{}': socket: {}", iface.name, std::strerror(errno)));
    const auto fail = [&](const std::string& what) { failed_configuring(iface, fd, what); };
    ifreq req{};
    std::strncpy(req.ifr_name, iface.kernel_name.c_str(), IFNAMSIZ - 1);
    if (iface.has_ipv4()) {
        const sockaddr_in address = inet(iface.address);
        std::memcpy(&req.ifr_addr, &address, sizeof(address));
        if (::ioctl(fd, SIOCSIFADDR, &req) != 0)
            fail("address");
        const sockaddr_in mask = inet(iface.netmask());
        std::memcpy(&req.ifr_netmask, &mask, sizeof(mask));
        if (::ioctl(fd, SIOCSIFNETMASK, &req) != 0)
            fail("netmask");
    }
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
}

// False when the file cannot be written (a kernel booted with ipv6.disable=1 has none).
bool try_write_ipv6_sysctl(const control::config::Interface& iface, const char* key,
                           const char* value) {
    std::ofstream f(fmt::format("/proc/sys/net/ipv6/conf/{}/{}", iface.kernel_name, key));
    f << value << "\n";
    f.flush();
    return static_cast<bool>(f);
}

void write_ipv6_sysctl(const control::config::Interface& iface, const char* key,
                       const char* value) {
    if (!try_write_ipv6_sysctl(iface, key, value))
        throw std::runtime_error(
            fmt::format("interface '{}': cannot write {} to /proc/sys/net/ipv6/conf/{}/{}: {} "
                        "(its IPv6 addresses need a kernel with IPv6; was it booted with "
                        "ipv6.disable=1?)",
                        iface.name, value, iface.kernel_name, key, std::strerror(errno)));
}

// The kernel's struct in6_ifreq (linux/ipv6.h, which clashes with glibc's netinet/in.h).
struct Ipv6InterfaceRequest {
    in6_addr address;
    std::uint32_t prefix_length;
    int interface_index;
};

// IPv6 on the tap's kernel side: exactly the addresses the workers send it frames for (the
// EUI-64 link-local of the port's MAC, then the configured ones), nothing the kernel would make
// up or learn by itself: no stable-privacy or temporary addresses whatever the distribution's
// defaults, no router advertisements, and no duplicate address detection (the tentative state
// would hold the addresses back for a second, and the worker already owns the link). Without
// IPv6 addresses, IPv6 stays off so that the kernel sends no IPv6 out of the data port.
void configure_kernel_ipv6(const control::config::Interface& iface, const rte_ether_addr& mac) {
    // Forgets what the kernel generated when the tap came up. Without IPv6 addresses this is
    // only hygiene, and a kernel without IPv6 has nothing to forget.
    if (iface.ipv6_addresses.empty()) {
        try_write_ipv6_sysctl(iface, "disable_ipv6", "1");
        return;
    }
    write_ipv6_sysctl(iface, "disable_ipv6", "1");
    write_ipv6_sysctl(iface, "addr_gen_mode", "1"); // none
    write_ipv6_sysctl(iface, "accept_dad", "0");
    write_ipv6_sysctl(iface, "accept_ra", "0");
    write_ipv6_sysctl(iface, "autoconf", "0");
    write_ipv6_sysctl(iface, "disable_ipv6", "0");
    const int fd = ::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        throw std::runtime_error(
            fmt::format("interface '{}': IPv6 socket: {}", iface.name, std::strerror(errno)));
    const int index = static_cast<int>(::if_nametoindex(iface.kernel_name.c_str()));
    const auto fail = [&](const std::string& what) { failed_configuring(iface, fd, what); };
    std::array<std::uint8_t, 6> mac_bytes;
    std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), mac_bytes.begin());
    std::vector<control::config::IpPrefix> addresses{
        {control::config::eui64_link_local(mac_bytes), 64}};
    addresses.insert(addresses.end(), iface.ipv6_addresses.begin(), iface.ipv6_addresses.end());
    for (const auto& p : addresses) {
        Ipv6InterfaceRequest r{};
        std::memcpy(&r.address, p.address.bytes.data(), 16);
        r.prefix_length = p.length;
        r.interface_index = index;
        if (::ioctl(fd, SIOCSIFADDR, &r) != 0 && errno != EEXIST)
            fail("address " + control::config::format_ip(p.address));
    }
    if (iface.ipv6_gateway) {
        in6_rtmsg route{};
        std::memcpy(&route.rtmsg_gateway, iface.ipv6_gateway->bytes.data(), 16);
        route.rtmsg_flags = RTF_UP | RTF_GATEWAY;
        route.rtmsg_metric = 1;
        route.rtmsg_ifindex = index;
        if (::ioctl(fd, SIOCADDRT, &route) != 0 && errno != EEXIST)
            fail("IPv6 default route");
    }
    ::close(fd);
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
        configure_kernel_ipv6(iface, ports[i].mac);
    }
}

} // namespace lb::app
