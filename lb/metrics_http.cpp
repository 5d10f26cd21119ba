#include "lb/metrics_http.hpp"

#include <pthread.h>

#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

namespace lb::app {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr beast::string_view metrics_content_type = "text/plain; version=0.0.4; charset=utf-8";

// ADDRESS:PORT with the address as IPv4, [IPv6] or a host name resolved at start.
tcp::endpoint resolve_listen(asio::io_context& io, const std::string& listen) {
    const auto colon = listen.rfind(':');
    if (colon == std::string::npos || colon + 1 == listen.size())
        throw std::runtime_error("not ADDRESS:PORT");
    std::string host = listen.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    tcp::resolver resolver(io);
    const auto results = resolver.resolve(host, listen.substr(colon + 1),
                                          tcp::resolver::passive | tcp::resolver::numeric_service);
    if (results.empty())
        throw std::runtime_error("the address resolves to nothing");
    return results.begin()->endpoint();
}

const boost::system::error_category& http_errors() {
    return http::make_error_code(http::error::bad_target).category();
}

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

} // namespace

struct MetricsHttpServer::Impl {
    Impl(const std::string& listen, Scrape scrape_function, HttpLimits server_limits);
    ~Impl();
    void run();
    void accept();
    Response answer(const Request& request) const;

    // Declared before the io_context: the sessions its destruction frees still count down.
    const Scrape scrape;
    const HttpLimits limits;
    std::size_t connections = 0; // only touched on the server's thread
    asio::io_context io{1};
    tcp::acceptor acceptor{io};
    asio::steady_timer accept_retry{io};
    std::thread thread;
};

namespace {

// One client connection: requests read and answered in turn (keep-alive), each within the
// limits, until the client closes, asks to close, errs or runs out of time.
class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(tcp::socket socket, MetricsHttpServer::Impl& server)
        : stream_(std::move(socket)), server_(server) {
        ++server_.connections;
    }
    ~Session() { --server_.connections; }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void read() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(server_.limits.max_header_bytes));
        parser_->body_limit(server_.limits.max_body_bytes);
        // The deadline covers the whole request, however slowly its bytes trickle in.
        stream_.expires_after(server_.limits.read_timeout);
        http::async_read(
            stream_, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
    }

  private:
    void on_read(beast::error_code ec) {
        if (ec == http::error::header_limit)
            return refuse(http::status::request_header_fields_too_large);
        if (ec == http::error::body_limit)
            return refuse(http::status::payload_too_large);
        if (ec && ec.category() == http_errors() && ec != http::error::end_of_stream &&
            ec != http::error::partial_message)
            return refuse(http::status::bad_request); // not HTTP
        if (ec)
            return close(); // closed by the client, timed out, or a socket error
        const Request request = parser_->release();
        write(server_.answer(request), request.keep_alive());
    }

    // The request cannot be read further: say why, then close.
    void refuse(http::status status) {
        Response response{status, 11};
        response.set(http::field::content_type, "text/plain");
        response.body() = std::string(http::obsolete_reason(status)) + "\n";
        write(std::move(response), false);
    }

    void write(Response response, bool keep_alive) {
        response_ = std::move(response);
        response_.set(http::field::server, "lb");
        response_.keep_alive(keep_alive);
        response_.prepare_payload();
        stream_.expires_after(server_.limits.write_timeout);
        http::async_write(
            stream_, response_,
            [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                if (ec || !keep_alive)
                    return self->close();
                self->read();
            });
    }

    void close() {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream_.close();
    }

    beast::tcp_stream stream_;
    MetricsHttpServer::Impl& server_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    Response response_;
};

} // namespace

MetricsHttpServer::Impl::Impl(const std::string& listen, Scrape scrape_function,
                              HttpLimits server_limits)
    : scrape(std::move(scrape_function)), limits(server_limits) {
    try {
        const tcp::endpoint endpoint = resolve_listen(io, listen);
        acceptor.open(endpoint.protocol());
        // As any server: a restarted lb binds again at once, despite connections in TIME_WAIT.
        acceptor.set_option(asio::socket_base::reuse_address(true));
        acceptor.bind(endpoint);
        acceptor.listen();
    } catch (const std::exception& e) {
        throw std::runtime_error(
            fmt::format("stats.listen {}: cannot serve metrics there: {}", listen, e.what()));
    }
    accept();
    thread = std::thread([this] { run(); });
    pthread_setname_np(thread.native_handle(), "lb-metrics"); // as top -H and gdb show it
}

MetricsHttpServer::Impl::~Impl() {
    io.stop();
    if (thread.joinable())
        thread.join();
}

void MetricsHttpServer::Impl::run() {
    for (;;) {
        try {
            io.run();
            return; // stopped
        } catch (const std::exception& e) {
            // A failed connection must not end the endpoint (nor, uncaught, the process).
            fmt::print(stderr, "lb: warning: metrics endpoint: {}\n", e.what());
        }
    }
}

void MetricsHttpServer::Impl::accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
        if (ec == asio::error::operation_aborted)
            return;
        if (ec) {
            // Out of file descriptors, most likely: retry later rather than spin.
            accept_retry.expires_after(std::chrono::milliseconds(100));
            accept_retry.async_wait([this](beast::error_code wait_ec) {
                if (!wait_ec)
                    accept();
            });
            return;
        }
        if (connections < limits.max_connections)
            std::make_shared<Session>(std::move(socket), *this)->read();
        // else: the socket closes here, unanswered.
        accept();
    });
}

Response MetricsHttpServer::Impl::answer(const Request& request) const {
    const beast::string_view target = request.target();
    const beast::string_view path = target.substr(0, target.find('?'));
    Response response{http::status::ok, request.version()};
    response.set(http::field::content_type, "text/plain");
    if (path != "/metrics") {
        response.result(http::status::not_found);
        response.body() = "lb serves only /metrics\n";
    } else if (request.method() != http::verb::get) {
        response.result(http::status::method_not_allowed);
        response.set(http::field::allow, "GET");
        response.body() = "/metrics answers GET only\n";
    } else {
        try {
            response.body() = scrape();
            response.set(http::field::content_type, metrics_content_type);
        } catch (const std::exception& e) {
            response.result(http::status::internal_server_error);
            response.body() = fmt::format("cannot collect the metrics: {}\n", e.what());
        }
    }
    if (request.method() == http::verb::head)
        response.body().clear(); // an answer to HEAD has no body
    return response;
}

MetricsHttpServer::MetricsHttpServer(const std::string& listen, Scrape scrape, HttpLimits limits)
    : impl_(std::make_unique<Impl>(listen, std::move(scrape), limits)) {}

MetricsHttpServer::~MetricsHttpServer() = default;

} // namespace lb::app
