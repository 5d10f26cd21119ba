// The HTTP side of the Prometheus endpoint: a small HTTP/1.1 server (Boost.Beast) on its own
// thread and io_context, so that neither a scrape nor a slow or hostile client ever runs on the
// control thread. It answers GET /metrics with what its scrape function returns and nothing else.
// lb does not use prometheus-cpp's Exposer because the Exposer always serves families of its own
// (exposer_*, a latency in microseconds) that lb cannot remove (docs/metrics.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace lb::app {

// What one client may cost. Every connection is served asynchronously, so a client that is slow
// only holds its own connection, and only until its deadline.
struct HttpLimits {
    // A request whose header is longer is answered 431, one whose body is longer 413 (GET has
    // none); then the connection is closed.
    std::size_t max_header_bytes = 8 * 1024;
    std::size_t max_body_bytes = 1024;
    // For a whole request (however slowly its bytes trickle in) and for a whole answer; past it
    // the connection is closed. A kept-alive connection waits at most read_timeout for the next.
    std::chrono::milliseconds read_timeout{5'000};
    std::chrono::milliseconds write_timeout{10'000};
    // Connections beyond it are accepted and closed at once: the process's file descriptors are
    // kept for health checks, replication and the admin socket.
    std::size_t max_connections = 64;
};

class MetricsHttpServer {
  public:
    // The body of GET /metrics, text/plain; version=0.0.4. Called on the server's thread; an
    // exception becomes a 500 carrying its message.
    using Scrape = std::function<std::string()>;

    // Binds `listen` (IPV4:PORT, [IPV6]:PORT or HOST:PORT) and serves until destroyed. Throws
    // std::runtime_error("stats.listen LISTEN: cannot serve metrics there: ...") if it cannot.
    MetricsHttpServer(const std::string& listen, Scrape scrape, HttpLimits limits = {});
    ~MetricsHttpServer();
    MetricsHttpServer(const MetricsHttpServer&) = delete;
    MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

    struct Impl; // public only so that the connections, in the .cpp, may name it

  private:
    std::unique_ptr<Impl> impl_;
};

} // namespace lb::app
