// Tells the outside world about VRRP transitions, in the order they happened: a line per
// transition to the notify FIFO (keepalived's format, `INSTANCE "NAME" STATE PRIORITY`), and
// the instance's hook command for the new state. Hooks run one at a time: the next starts only
// when the previous has exited (or was killed at its timeout), so that a slow MASTER hook can
// never finish after the BACKUP hook that followed it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include <boost/asio/io_context.hpp>

#include "control/config/model.hpp"
#include "modules/vrrp/instance.hpp"

namespace lb::control::vrrp {

class Notifier {
  public:
    // Creates the FIFO if missing; throws with a message when it cannot.
    Notifier(boost::asio::io_context& io, const config::Config& config);
    ~Notifier();
    Notifier(const Notifier&) = delete;
    Notifier& operator=(const Notifier&) = delete;

    // A reload: a changed `vrrp.notify_fifo` is opened (the old one closed). Hooks come with
    // each transition's instance settings, so they need nothing here. Throws as the
    // constructor does; the old FIFO is closed either way.
    void reconfigure(const config::Config& config);

    void transition(const config::VrrpInstance& instance, State to, std::uint8_t priority,
                    const std::string& reason);
    // Hooks time out after this long.
    static constexpr std::chrono::seconds hook_timeout{60};
    std::uint64_t fifo_lines_lost() const { return fifo_lost_; }
    // No hook running or waiting.
    bool idle() const { return !running_ && hooks_.empty(); }

  private:
    struct Hook {
        std::string command;
        std::string instance;
        std::string state;
        std::uint8_t priority;
        std::string reason;
    };
    void run_next();
    void open_fifo(const std::string& path);

    boost::asio::io_context& io_;
    std::string fifo_path_;
    int fifo_ = -1;
    std::uint64_t fifo_lost_ = 0;
    std::deque<Hook> hooks_;
    bool running_ = false;
};

} // namespace lb::control::vrrp
