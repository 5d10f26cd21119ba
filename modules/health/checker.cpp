#include "modules/health/checker.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "control/config/value_parsers.hpp"

extern char** environ;

namespace lb::control::health {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using Clock = std::chrono::steady_clock;

namespace {

std::string seconds(std::chrono::milliseconds d) {
    return config::format_duration(d);
}

// "\r\n" and "\n" written in the configuration become the bytes they name.
std::string unescape(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 1 < s.size()) {
            const char c = s[++i];
            out += c == 'r' ? '\r' : c == 'n' ? '\n' : c == 't' ? '\t' : c;
        } else {
            out += s[i];
        }
    }
    return out;
}

bool reply_matches(const config::HealthCheck& c, const std::string& reply) {
    if (!c.expect_regex.empty())
        return c.expect_regex.search(reply);
    return reply.compare(0, c.expect.size(), c.expect) == 0;
}

// What socket-based checks share: a socket, the deadline timer, and reporting the result
// exactly once (with its duration), closing the socket.
template <typename Socket> class SocketAttempt {
  protected:
    SocketAttempt(asio::io_context& io, CheckDone done)
        : socket_(io), timer_(io), done_(std::move(done)), start_(Clock::now()) {}

    void finish(CheckResult r) {
        if (finished_)
            return;
        finished_ = true;
        timer_.cancel();
        boost::system::error_code ignored;
        socket_.close(ignored);
        r.duration = Clock::now() - start_;
        done_(std::move(r));
    }

    Socket socket_;
    asio::steady_timer timer_;
    CheckDone done_;
    Clock::time_point start_;
    bool finished_ = false;
};

// A TCP conversation: connect, optionally send, read until `enough` says so or EOF; all
// bounded by one deadline. Shared by tcp, http and send_expect.
class TcpAttempt : public SocketAttempt<tcp::socket>,
                   public std::enable_shared_from_this<TcpAttempt> {
  public:
    using Enough = std::function<bool(const std::string&)>;
    using Judge = std::function<CheckResult(const std::string&, bool eof)>;

    TcpAttempt(asio::io_context& io, const config::HealthCheck& check, const CheckTarget& target,
               std::string request, Enough enough, Judge judge, CheckDone done)
        : SocketAttempt(io, std::move(done)), check_(check), target_(target),
          request_(std::move(request)), enough_(std::move(enough)), judge_(std::move(judge)) {}

    void start() {
        auto self = shared_from_this();
        timer_.expires_after(check_.timeout);
        timer_.async_wait([self](const boost::system::error_code& ec) {
            if (!ec)
                self->finish(
                    {false,
                     self->connected_
                         ? fmt::format("no answer within {}", seconds(self->check_.timeout))
                         : fmt::format("connect timeout after {}", seconds(self->check_.timeout))});
        });
        const tcp::endpoint endpoint(asio::ip::address_v4(target_.address), target_.port);
        socket_.async_connect(endpoint, [self](const boost::system::error_code& ec) {
            if (ec) {
                self->finish({false, ec == asio::error::connection_refused
                                         ? "connect refused"
                                         : "connect failed: " + ec.message()});
                return;
            }
            self->connected_ = true;
            if (!self->enough_ && self->request_.empty()) {
                self->finish({true, ""}); // plain tcp check
                return;
            }
            if (self->request_.empty())
                self->read();
            else
                asio::async_write(self->socket_, asio::buffer(self->request_),
                                  [self](const boost::system::error_code& wec, std::size_t) {
                                      if (wec)
                                          self->finish({false, "send failed: " + wec.message()});
                                      else
                                          self->read();
                                  });
        });
    }

  private:
    void read() {
        auto self = shared_from_this();
        socket_.async_read_some(asio::buffer(chunk_),
                                [self](const boost::system::error_code& ec, std::size_t n) {
                                    self->reply_.append(self->chunk_.data(), n);
                                    const bool eof = static_cast<bool>(ec);
                                    if (eof || self->reply_.size() >= 65536 ||
                                        (self->enough_ && self->enough_(self->reply_)))
                                        self->finish(self->judge_(self->reply_, eof));
                                    else
                                        self->read();
                                });
    }

    const config::HealthCheck check_;
    const CheckTarget target_;
    const std::string request_;
    Enough enough_;
    Judge judge_;
    std::array<char, 4096> chunk_{};
    std::string reply_;
    bool connected_ = false;
};

CheckResult judge_http(const config::HealthCheck& c, const std::string& reply, bool) {
    // "HTTP/1.x CODE ..."
    const auto space = reply.find(' ');
    if (reply.compare(0, 5, "HTTP/") != 0 || space == std::string::npos || reply.size() < space + 4)
        return {false, reply.empty() ? "no HTTP answer" : "not an HTTP answer"};
    unsigned code = 0;
    for (std::size_t i = space + 1; i < space + 4; ++i) {
        if (reply[i] < '0' || reply[i] > '9')
            return {false, "not an HTTP answer"};
        code = code * 10 + static_cast<unsigned>(reply[i] - '0');
    }
    bool expected = false;
    for (const auto& [lo, hi] : c.expect_status)
        expected = expected || (code >= lo && code <= hi);
    if (!expected)
        return {false, fmt::format("HTTP {}", code)};
    if (!c.body_regex.empty()) {
        const auto body_at = reply.find("\r\n\r\n");
        const std::string body = body_at == std::string::npos ? "" : reply.substr(body_at + 4);
        if (!c.body_regex.search(body))
            return {false,
                    fmt::format("HTTP {}: body does not match /{}/", code, c.body_regex.pattern())};
    }
    return {true, ""};
}

class UdpAttempt : public SocketAttempt<udp::socket>,
                   public std::enable_shared_from_this<UdpAttempt> {
  public:
    UdpAttempt(asio::io_context& io, const config::HealthCheck& check, const CheckTarget& target,
               CheckDone done)
        : SocketAttempt(io, std::move(done)), check_(check), target_(target) {}

    void start() {
        auto self = shared_from_this();
        timer_.expires_after(check_.timeout);
        timer_.async_wait([self](const boost::system::error_code& ec) {
            if (!ec)
                self->finish(
                    {false, fmt::format("no answer within {}", seconds(self->check_.timeout))});
        });
        boost::system::error_code ec;
        const udp::endpoint endpoint(asio::ip::address_v4(target_.address), target_.port);
        socket_.open(udp::v4(), ec);
        if (!ec)
            socket_.connect(endpoint, ec);
        if (ec) {
            finish({false, "socket: " + ec.message()});
            return;
        }
        payload_ = unescape(check_.send);
        socket_.async_send(
            asio::buffer(payload_), [self](const boost::system::error_code& sec, std::size_t) {
                if (sec) {
                    self->finish({false, "send failed: " + sec.message()});
                    return;
                }
                self->socket_.async_receive(
                    asio::buffer(self->chunk_),
                    [self](const boost::system::error_code& rec, std::size_t n) {
                        if (rec) {
                            self->finish({false, rec == asio::error::connection_refused
                                                     ? "port unreachable"
                                                     : "receive failed: " + rec.message()});
                            return;
                        }
                        const std::string reply(self->chunk_.data(), n);
                        self->finish(reply_matches(self->check_, reply)
                                         ? CheckResult{true, ""}
                                         : CheckResult{false, "unexpected answer"});
                    });
            });
    }

  private:
    const config::HealthCheck check_;
    const CheckTarget target_;
    std::string payload_;
    std::array<char, 4096> chunk_{};
};

// An exec check: /bin/sh -c COMMAND in its own process group, polled every 20 ms, killed with
// its group at the timeout.
class ExecAttempt : public std::enable_shared_from_this<ExecAttempt> {
  public:
    ExecAttempt(asio::io_context& io, const config::HealthCheck& check, const CheckTarget& target,
                CheckDone done)
        : timer_(io), check_(check), target_(target), done_(std::move(done)), start_(Clock::now()) {
    }

    void start() {
        posix_spawnattr_t attributes;
        posix_spawnattr_init(&attributes);
        posix_spawnattr_setpgroup(&attributes, 0);
        posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
        posix_spawn_file_actions_t files;
        posix_spawn_file_actions_init(&files);
        posix_spawn_file_actions_addopen(&files, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&files, 1, "/dev/null", O_WRONLY, 0);
        const std::string address = config::format_ipv4(target_.address);
        const std::string port = std::to_string(target_.port);
        std::vector<std::string> env_strings = {"LB_REAL_SERVER=" + address,
                                                "LB_REAL_SERVER_PORT=" + port,
                                                "LB_CHECK=" + target_.label};
        env_strings.insert(env_strings.end(), target_.environment.begin(),
                           target_.environment.end());
        std::vector<char*> envp;
        for (char** e = environ; *e; ++e)
            envp.push_back(*e);
        for (auto& s : env_strings)
            envp.push_back(s.data());
        envp.push_back(nullptr);
        // Arguments reach the command as "$@": sh -c 'COMMAND "$@"' sh ARG...
        std::string command = check_.command;
        if (!target_.arguments.empty())
            command += " \"$@\"";
        std::vector<std::string> words = {"/bin/sh", "-c", command, "sh"};
        words.insert(words.end(), target_.arguments.begin(), target_.arguments.end());
        std::vector<char*> argv;
        for (auto& w : words)
            argv.push_back(w.data());
        argv.push_back(nullptr);
        const int rc = posix_spawn(&pid_, "/bin/sh", &files, &attributes, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&files);
        posix_spawnattr_destroy(&attributes);
        if (rc != 0) {
            finish({false, fmt::format("cannot run '{}': {}", check_.command, strerror(rc))});
            return;
        }
        poll();
    }

  private:
    void poll() {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                finish({true, ""});
            else if (WIFEXITED(status))
                finish({false,
                        fmt::format("'{}' exited with {}", check_.command, WEXITSTATUS(status))});
            else
                finish({false,
                        fmt::format("'{}' killed by signal {}", check_.command, WTERMSIG(status))});
            return;
        }
        if (Clock::now() - start_ >= check_.timeout) {
            ::kill(-pid_, SIGKILL);
            ::waitpid(pid_, &status, 0); // immediate: it was just killed
            pid_ = -1;
            finish({false,
                    fmt::format("'{}' killed after {}", check_.command, seconds(check_.timeout))});
            return;
        }
        auto self = shared_from_this();
        timer_.expires_after(std::chrono::milliseconds(20));
        timer_.async_wait([self](const boost::system::error_code& ec) {
            if (!ec)
                self->poll();
        });
    }

    void finish(CheckResult r) {
        r.duration = Clock::now() - start_;
        done_(std::move(r));
    }

    asio::steady_timer timer_;
    const config::HealthCheck check_;
    const CheckTarget target_;
    CheckDone done_;
    Clock::time_point start_;
    pid_t pid_ = -1;
};

} // namespace

void run_check(asio::io_context& io, const config::HealthCheck& c, const CheckTarget& target,
               CheckDone done) {
    using Type = config::HealthCheck::Type;
    switch (c.type) {
    case Type::tcp:
        std::make_shared<TcpAttempt>(io, c, target, "", nullptr, nullptr, std::move(done))->start();
        return;
    case Type::http: {
        const std::string host =
            c.host.empty() ? fmt::format("{}:{}", config::format_ipv4(target.address), target.port)
                           : c.host;
        std::string request =
            fmt::format("{} {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: lb-health-check"
                        "\r\nConnection: close\r\n\r\n",
                        c.method, c.path, host);
        const bool need_body = !c.body_regex.empty();
        std::make_shared<TcpAttempt>(
            io, c, target, std::move(request),
            [need_body](const std::string& r) {
                // The status line is enough unless the body must be matched (then read to EOF).
                return !need_body && r.find("\r\n") != std::string::npos;
            },
            [c](const std::string& r, bool eof) { return judge_http(c, r, eof); }, std::move(done))
            ->start();
        return;
    }
    case Type::send_expect: {
        std::make_shared<TcpAttempt>(
            io, c, target, unescape(c.send),
            [c](const std::string& r) {
                return c.expect_regex.empty() ? r.size() >= c.expect.size()
                                              : c.expect_regex.search(r);
            },
            [c](const std::string& r, bool) {
                return reply_matches(c, r) ? CheckResult{true, ""}
                       : r.empty()         ? CheckResult{false, "no answer"}
                                   : CheckResult{false, fmt::format("unexpected answer '{}'",
                                                                    r.substr(0, 40))};
            },
            std::move(done))
            ->start();
        return;
    }
    case Type::udp:
        std::make_shared<UdpAttempt>(io, c, target, std::move(done))->start();
        return;
    case Type::exec:
        std::make_shared<ExecAttempt>(io, c, target, std::move(done))->start();
        return;
    }
}

} // namespace lb::control::health
