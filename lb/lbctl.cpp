// lbctl: the admin command for a running lb, over its local socket (root only).
//   lbctl [--socket PATH] [--json] services | real-servers [SERVICE] |
//         connections [--service S] [--limit N] | set-weight SERVICE SERVER WEIGHT |
//         drain SERVICE SERVER | reload | stats | vrrp | replication | bgp |
//         drain-node [--undo]
// Exit status: 0 done, 1 refused (unknown name, bad value, invalid configuration), 2 usage,
// 3 lb not reachable. With --json, every outcome is one JSON document on stdout (errors as
// {"error": ...}), so that a script parses one stream whatever happened.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "control/json_text.hpp"
#include "lb/admin_request.hpp"

namespace {

constexpr int refused = 1, usage_error = 2, unreachable = 3;

bool json_output = false;

// lbctl's own errors: a line on stderr for people, {"error": ...} on stdout with --json.
int fail(int status, const std::string& message) {
    if (json_output)
        fmt::print("{}\n", lb::control::json_text({{"error", message}}));
    else
        fmt::print(stderr, "lbctl: {}\n", message);
    return status;
}

int usage(const std::string& message) {
    if (!json_output)
        fmt::print(stderr,
                   "lbctl: usage: {}\nusage: lbctl [--socket PATH] [--json] COMMAND "
                   "[ARGS]\n{}",
                   message, lb::app::admin_usage());
    else
        fail(usage_error, "usage: " + message);
    return usage_error;
}

} // namespace

int main(int argc, char** argv) {
    std::string socket_path = "/run/lb/lb.sock";
    std::vector<std::string> words;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--socket") {
            if (i + 1 == argc)
                return usage("--socket needs a PATH");
            socket_path = argv[++i];
        } else if (a == "-h" || a == "--help") {
            fmt::print("usage: lbctl [--socket PATH] [--json] COMMAND [ARGS]\n{}",
                       lb::app::admin_usage());
            return 0;
        } else {
            json_output = json_output || a == "--json";
            words.push_back(a);
        }
    }
    for (const auto& w : words)
        if (w.empty() || w.find_first_of(" \t\r\n") != std::string::npos)
            return usage(fmt::format("arguments must be non-empty words: '{}'", w));
    const auto parsed = lb::app::parse_admin_request(words);
    if (!parsed.request)
        return usage(parsed.usage_error);

    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(address.sun_path))
        return usage(fmt::format("socket path too long: {}", socket_path));
    std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
        const int e = errno;
        if (e == ENOENT || e == ECONNREFUSED)
            return fail(unreachable,
                        fmt::format("lb is not running (nothing listens on {})", socket_path));
        if (e == EACCES || e == EPERM)
            return fail(unreachable,
                        fmt::format("permission denied on {} (lbctl needs root)", socket_path));
        return fail(unreachable,
                    fmt::format("cannot reach lb at {}: {}", socket_path, std::strerror(e)));
    }
    const std::string request = parsed.request->line() + '\n';
    for (std::size_t sent = 0; sent < request.size();) {
        const ssize_t n = ::write(fd, request.data() + sent, request.size() - sent);
        if (n <= 0)
            return fail(unreachable, "lost the connection to lb");
        sent += static_cast<std::size_t>(n);
    }
    std::string reply;
    char buffer[65536];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof(buffer))) > 0;)
        reply.append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
    // The first line says how it went: ok, error (refused) or usage; then the body.
    const auto newline = reply.find('\n');
    if (newline == std::string::npos)
        return fail(unreachable, "no answer from lb");
    const std::string status = reply.substr(0, newline);
    const std::string body = reply.substr(newline + 1);
    if (status == "ok" || json_output) {
        fmt::print("{}", body); // with --json, errors are JSON too: stdout
        return status == "ok" ? 0 : status == "usage" ? usage_error : refused;
    }
    fmt::print(stderr, "lbctl: {}", body);
    return status == "usage" ? usage_error : refused;
}
