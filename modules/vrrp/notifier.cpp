#include "modules/vrrp/notifier.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "modules/health/checker.hpp"

namespace lb::control::vrrp {

Notifier::Notifier(boost::asio::io_context& io, const config::Config& config) : io_(io) {
    open_fifo(config.vrrp.notify_fifo);
}

void Notifier::reconfigure(const config::Config& config) {
    if (config.vrrp.notify_fifo == fifo_path_)
        return;
    if (fifo_ >= 0)
        ::close(fifo_);
    fifo_ = -1;
    fifo_path_.clear();
    open_fifo(config.vrrp.notify_fifo);
}

void Notifier::open_fifo(const std::string& path) {
    if (path.empty())
        return;
    if (::mkfifo(path.c_str(), 0600) != 0 && errno != EEXIST)
        throw std::runtime_error(fmt::format("vrrp.notify_fifo: cannot create FIFO '{}': {}", path,
                                             std::strerror(errno)));
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode))
        throw std::runtime_error(
            fmt::format("vrrp.notify_fifo: '{}' exists and is not a FIFO", path));
    // Opened for reading and writing: the open never waits for a reader, and lines written
    // while no reader is attached wait in the pipe (64 KiB) for the next one. Non-blocking: a
    // reader that stops reading loses lines (counted) but never stalls VRRP.
    fifo_ = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fifo_ < 0)
        throw std::runtime_error(
            fmt::format("vrrp.notify_fifo: cannot open '{}': {}", path, std::strerror(errno)));
    fifo_path_ = path;
}

Notifier::~Notifier() {
    if (fifo_ >= 0)
        ::close(fifo_);
}

void Notifier::transition(const config::VrrpInstance& instance, State to, std::uint8_t priority,
                          const std::string& reason) {
    const char* state = to == State::initialize ? "STOP" : to_string(to);
    if (fifo_ >= 0) {
        const std::string line =
            fmt::format("INSTANCE \"{}\" {} {}\n", instance.name, state, priority);
        // Lines are far below PIPE_BUF, so each write is atomic: whole or nothing.
        if (::write(fifo_, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
            ++fifo_lost_;
    }
    const std::string& command = to == State::master   ? instance.notify.master
                                 : to == State::backup ? instance.notify.backup
                                 : to == State::fault  ? instance.notify.fault
                                                       : instance.notify.stop;
    if (command.empty())
        return;
    hooks_.push_back({command, instance.name, state, priority, reason});
    if (!running_)
        run_next();
}

void Notifier::run_next() {
    if (hooks_.empty()) {
        running_ = false;
        return;
    }
    running_ = true;
    Hook h = std::move(hooks_.front());
    hooks_.pop_front();
    config::HealthCheck check;
    check.type = config::HealthCheck::Type::exec;
    check.command = h.command;
    check.timeout = hook_timeout;
    health::CheckTarget target;
    target.label = "vrrp " + h.instance;
    target.arguments = {"INSTANCE", h.instance, h.state, std::to_string(h.priority)};
    target.environment = {"LB_VRRP_INSTANCE=" + h.instance, "LB_VRRP_STATE=" + h.state,
                          "LB_VRRP_PRIORITY=" + std::to_string(h.priority),
                          "LB_VRRP_REASON=" + h.reason};
    health::run_check(io_, check, target, [this, h](health::CheckResult r) {
        if (!r.ok)
            fmt::print(stderr, "lb: vrrp {}: {} hook failed: {}\n", h.instance, h.state, r.reason);
        run_next();
    });
}

} // namespace lb::control::vrrp
