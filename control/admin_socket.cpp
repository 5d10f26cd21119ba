#include "control/admin_socket.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

namespace lb::control {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {

constexpr std::size_t max_request = 4096;
constexpr auto request_timeout = std::chrono::seconds(5);

// One client: read a line (bounded, with a deadline), answer, close.
class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(local::socket socket, const AdminSocket::Handler& handler)
        : socket_(std::move(socket)), timer_(socket_.get_executor()), buffer_(max_request),
          handler_(handler) {}

    void start() {
        auto self = shared_from_this();
        timer_.expires_after(request_timeout);
        timer_.async_wait([self](const boost::system::error_code& ec) {
            if (!ec)
                self->socket_.close();
        });
        asio::async_read_until(
            socket_, buffer_, '\n',
            [self](const boost::system::error_code& ec, std::size_t) { self->on_request(ec); });
    }

  private:
    void on_request(const boost::system::error_code& ec) {
        timer_.cancel();
        if (ec)
            return; // closed, too long, or timed out: nothing to answer
        std::istream in(&buffer_);
        std::string request;
        std::getline(in, request);
        auto self = shared_from_this();
        try {
            handler_(request, [self](AdminAnswer answer) { self->answer(std::move(answer)); });
        } catch (const std::exception& e) {
            answer({false, e.what()});
        }
    }

    void answer(AdminAnswer answer) {
        if (answered_)
            return;
        answered_ = true;
        reply_ = (answer.ok ? "ok\n" : answer.usage ? "usage\n" : "error\n") + answer.body;
        if (!reply_.empty() && reply_.back() != '\n')
            reply_ += '\n';
        auto self = shared_from_this();
        asio::async_write(socket_, asio::buffer(reply_),
                          [self](const boost::system::error_code&, std::size_t) {
                              boost::system::error_code ignored;
                              self->socket_.shutdown(local::socket::shutdown_both, ignored);
                          });
    }

    local::socket socket_;
    asio::steady_timer timer_;
    asio::streambuf buffer_;
    AdminSocket::Handler handler_;
    std::string reply_;
    bool answered_ = false;
};

} // namespace

void check_admin_socket_free(const std::string& path) {
    std::error_code missing;
    if (!std::filesystem::exists(path, missing))
        return;
    // Liveness is a connection accepted: a file left by a process that died refuses it.
    asio::io_context io;
    local::socket probe(io);
    boost::system::error_code ec;
    probe.connect(local::endpoint(path), ec);
    if (!ec)
        throw std::runtime_error(fmt::format(
            "admin socket {} is in use by another running lb; give each lb on a host its own "
            "admin.socket (lbctl --socket PATH reaches it)",
            path));
}

struct AdminSocket::Impl {
    Impl(asio::io_context& io, const std::string& path, Handler h)
        : acceptor(io), handler(std::move(h)) {
        const std::filesystem::path p(path);
        if (p.has_parent_path() && !std::filesystem::exists(p.parent_path())) {
            std::filesystem::create_directories(p.parent_path());
            ::chmod(p.parent_path().c_str(), 0700);
        }
        // A socket file left by a process that died is replaced; a live one is not.
        check_admin_socket_free(path);
        std::error_code stale;
        std::filesystem::remove(p, stale);
        const mode_t old_mask = ::umask(0177); // created 0600: root only
        boost::system::error_code ec;
        acceptor.open(local(), ec);
        if (!ec)
            acceptor.bind(local::endpoint(path), ec);
        ::umask(old_mask);
        if (!ec)
            acceptor.listen(asio::socket_base::max_listen_connections, ec);
        if (ec)
            throw std::runtime_error(fmt::format("admin socket {}: {}", path, ec.message()));
        accept();
    }

    void accept() {
        acceptor.async_accept([this](const boost::system::error_code& ec, local::socket s) {
            if (ec == asio::error::operation_aborted)
                return;
            if (!ec)
                std::make_shared<Session>(std::move(s), handler)->start();
            accept();
        });
    }

    local::acceptor acceptor;
    Handler handler;
};

AdminSocket::AdminSocket(asio::io_context& io, std::string path, Handler handler)
    : impl_(std::make_unique<Impl>(io, path, std::move(handler))), path_(std::move(path)) {}

AdminSocket::~AdminSocket() {
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    std::error_code also_ignored;
    std::filesystem::remove(path_, also_ignored);
}

} // namespace lb::control
