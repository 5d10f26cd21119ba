// lbctl: the admin command for a running lb, over its local socket (root only).
//   lbctl [--socket PATH] [--json] services | real-servers [SERVICE] |
//         connections [--service S] [--limit N] | set-weight SERVICE SERVER WEIGHT |
//         drain SERVICE SERVER | reload | stats | vrrp
// Exit status: 0 done, 1 refused (unknown name, bad value, invalid configuration), 2 usage,
// 3 lb not reachable.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace {

constexpr const char* usage =
    "usage: lbctl [--socket PATH] [--json] COMMAND [ARGS]\n"
    "commands:\n"
    "  services                             services with their connections\n"
    "  real-servers [SERVICE]               real servers, weights and traffic\n"
    "  connections [--service S] [--limit N]\n"
    "  set-weight SERVICE SERVER WEIGHT     SERVER is ADDRESS or ADDRESS:PORT; 0..65535\n"
    "  drain SERVICE SERVER                 weight 0: no new connections, established go on\n"
    "  reload                               re-read the configuration file\n"
    "  stats                                all counters, as JSON\n"
    "  vrrp                                 VRRP instances: state, priority, master, why\n";

} // namespace

int main(int argc, char** argv) {
    std::string socket_path = "/run/lb/lb.sock";
    std::string request;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--socket" && i + 1 < argc) {
            socket_path = argv[++i];
        } else if (a == "-h" || a == "--help") {
            fmt::print("{}", usage);
            return 0;
        } else {
            request += (request.empty() ? "" : " ") + a;
        }
    }
    if (request.empty() || request == "--json") {
        fmt::print(stderr, "{}", usage);
        return 2;
    }
    if (request.find('\n') != std::string::npos) {
        fmt::print(stderr, "lbctl: arguments must not contain newlines\n");
        return 2;
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(address.sun_path)) {
        fmt::print(stderr, "lbctl: socket path too long: {}\n", socket_path);
        return 2;
    }
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
        const int e = errno;
        if (e == ENOENT || e == ECONNREFUSED)
            fmt::print(stderr, "lbctl: lb is not running (nothing listens on {})\n", socket_path);
        else if (e == EACCES || e == EPERM)
            fmt::print(stderr, "lbctl: permission denied on {} (lbctl needs root)\n", socket_path);
        else
            fmt::print(stderr, "lbctl: cannot reach lb at {}: {}\n", socket_path, std::strerror(e));
        return 3;
    }
    request += '\n';
    for (std::size_t sent = 0; sent < request.size();) {
        const ssize_t n = ::write(fd, request.data() + sent, request.size() - sent);
        if (n <= 0) {
            fmt::print(stderr, "lbctl: lost the connection to lb\n");
            return 3;
        }
        sent += static_cast<std::size_t>(n);
    }
    std::string reply;
    char buffer[65536];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof(buffer))) > 0;)
        reply.append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
    const auto newline = reply.find('\n');
    if (newline == std::string::npos) {
        fmt::print(stderr, "lbctl: no answer from lb\n");
        return 3;
    }
    const bool ok = reply.compare(0, newline, "ok") == 0;
    const std::string body = reply.substr(newline + 1);
    if (ok) {
        fmt::print("{}", body);
        return 0;
    }
    fmt::print(stderr, "lbctl: {}", body);
    return 1;
}
