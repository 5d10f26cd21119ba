#include "modules/bgp/driver.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <fmt/format.h>

#include "control/config/value_parsers.hpp"
#include "control/report/stats_report.hpp"
#include "modules/bgp/bird_config.hpp"
#include "modules/bgp/drain_state.hpp"

namespace lb::app {

namespace bgp = control::bgp;
using control::config::format_ipv4;
using Clock = std::chrono::steady_clock;
using control::report::iso8601_ms;
using control::report::Moment;

namespace {

constexpr std::chrono::seconds retry_period{1};
constexpr std::chrono::seconds poll_period{1};
constexpr std::chrono::seconds answer_deadline{15};
constexpr std::chrono::milliseconds shutdown_step_period{100};
// After BIRD confirmed the withdrawal: time for its UPDATEs to reach the router and for the
// router to take the node out of the ECMP group before lb stops answering.
constexpr std::chrono::seconds settle{1};

std::vector<std::uint32_t> announced(const std::vector<bgp::VipDecision>& decisions) {
    std::vector<std::uint32_t> out;
    for (const auto& d : decisions)
        if (d.announce)
            out.push_back(d.vip);
    return out;
}

bool contains(const std::vector<std::uint32_t>& v, std::uint32_t x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

} // namespace

BgpControl::BgpControl(boost::asio::io_context& io, Balancer& balancer, HealthView health)
    : io_(io), balancer_(balancer), health_(std::move(health)),
      settings_(balancer.config().bgp.value()), socket_(io), retry_timer_(io), poll_timer_(io),
      answer_timer_(io), shutdown_timer_(io) {
    // The path is checked here, where an operator's mistake stops lb at start.
    (void)bgp::configure_command(settings().config);
}

BgpControl::~BgpControl() = default;

void BgpControl::start() {
    fmt::print(stderr, "lb: bgp: BIRD configuration {}, control socket {}\n", settings().config,
               settings().socket);
    restore_drain_state();
    update();
    connect();
    schedule_poll();
}

// ---- deciding and writing ------------------------------------------------------------------

void BgpControl::update() {
    // A reload that removed the bgp section withdraws everything, with the last settings: BIRD
    // keeps running (it is the operator's), announcing nothing of lb's.
    const control::config::Config& current = balancer_.config();
    std::optional<control::config::Config> without; // a copy, only while the section is gone
    if (current.bgp) {
        settings_ = *current.bgp;
    } else {
        without = current;
        without->bgp = settings_;
    }
    const control::config::Config& running = without ? *without : current;
    const bool removed = without.has_value();
    const HealthNow h = health_();
    auto next = bgp::decide_announcements(running, h.down, h.statuses,
                                          drained_ || shutting_down_ || removed);
    log_changes(next);
    decisions_ = std::move(next);
    const auto vips = announced(decisions_);
    const std::string text = bgp::bird_config_text(running, vips);
    if (text != text_ || write_failed_) {
        if (write_file(text)) {
            text_ = text;
            written_ = vips;
            ++generation_;
            want_configure_ = true;
        }
    }
    // A reload that moved the drained state's file: the running state goes there, where the next
    // start reads it.
    if (!drain_file_.empty() && drain_file_ != settings().drain_state_file)
        keep_drain_state();
    // A reload that moved BIRD's socket: talk to the new one.
    if (link_ != Link::idle && socket_path_ != settings().socket)
        lost(fmt::format("bgp.socket changed to {}", settings().socket));
    send_next();
    publish();
}

void BgpControl::log_changes(const std::vector<bgp::VipDecision>& next) {
    for (const auto& d : next) {
        const auto before = std::find_if(decisions_.begin(), decisions_.end(),
                                         [&](const auto& p) { return p.vip == d.vip; });
        const bool was = before != decisions_.end() && before->announce;
        const bool first = before == decisions_.end();
        if (d.announce != was || (first && !d.announce && !d.services.empty()))
            fmt::print(stderr, "lb: bgp: {} {}: {}\n", d.announce ? "announcing" : "withdrawing",
                       format_ipv4(d.vip), d.reason);
    }
}

// Temporary file and rename: BIRD, reading it at any moment (its own restart), sees the old
// file or the new one, never half of one.
bool BgpControl::write_file(const std::string& text) {
    const std::string& path = settings().config;
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
    try {
        control::report::write_file_atomically(path, text);
        write_failed_ = false;
        return true;
    } catch (const std::exception& e) {
        bird_error_ = e.what();
    }
    if (!write_failed_) {
        fmt::print(stderr, "lb: bgp: error: {} (retried every second)\n", bird_error_);
        ++bird_errors_;
    }
    write_failed_ = true;
    return false;
}

// ---- the control socket ----------------------------------------------------------------------

void BgpControl::connect() {
    if (link_ != Link::idle)
        return;
    socket_path_ = settings().socket;
    link_ = Link::connecting;
    socket_ = boost::asio::local::stream_protocol::socket(io_);
    socket_.async_connect(boost::asio::local::stream_protocol::endpoint(socket_path_),
                          [this](const boost::system::error_code& ec) { on_connected(ec); });
}

void BgpControl::on_connected(const boost::system::error_code& ec) {
    if (ec == boost::asio::error::operation_aborted)
        return;
    if (ec) {
        link_ = Link::idle;
        if (!unreachable_logged_) {
            fmt::print(stderr,
                       "lb: bgp: BIRD not reachable at {} ({}); retrying every second (is bird "
                       "running with -s {}?)\n",
                       socket_path_, ec.message(), socket_path_);
            unreachable_logged_ = true;
        }
        bird_error_ = fmt::format("cannot connect to {}: {}", socket_path_, ec.message());
        link_down_reason_ = bird_error_;
        retry_timer_.expires_after(retry_period);
        retry_timer_.async_wait([this](const boost::system::error_code& e) {
            if (!e)
                connect();
        });
        publish();
        return;
    }
    link_ = Link::greeting;
    received_.clear();
    answer_timer_.expires_after(answer_deadline);
    answer_timer_.async_wait([this](const boost::system::error_code& e) {
        if (!e && link_ == Link::greeting)
            lost("BIRD sent no greeting");
    });
    read();
}

void BgpControl::read() {
    socket_.async_read_some(
        boost::asio::buffer(chunk_), [this](const boost::system::error_code& ec, std::size_t n) {
            if (ec == boost::asio::error::operation_aborted)
                return;
            if (ec) {
                lost(ec == boost::asio::error::eof ? "BIRD closed the control connection"
                                                   : ec.message());
                return;
            }
            received_.append(chunk_.data(), n);
            try {
                while (link_ != Link::idle) {
                    auto reply = bgp::take_bird_reply(received_);
                    if (!reply)
                        break;
                    on_reply(*reply);
                }
            } catch (const std::exception& e) {
                lost(e.what());
                return;
            }
            if (link_ != Link::idle)
                read();
        });
}

void BgpControl::lost(const std::string& why) {
    if (link_ == Link::idle)
        return;
    const bool was_ready = link_ == Link::ready || link_ == Link::greeting;
    if (link_ == Link::ready)
        link_since_ = Moment::now();
    link_down_reason_ = why;
    boost::system::error_code ignored;
    socket_.close(ignored);
    answer_timer_.cancel();
    link_ = Link::idle;
    in_flight_.reset();
    protocols_.clear();
    bfd_.clear();
    bird_error_ = why;
    if (was_ready) {
        ++bird_errors_;
        fmt::print(stderr, "lb: bgp: lost BIRD's control connection: {}; reconnecting\n", why);
        unreachable_logged_ = false;
    }
    retry_timer_.expires_after(retry_period);
    retry_timer_.async_wait([this](const boost::system::error_code& e) {
        if (!e)
            connect();
    });
    publish();
}

void BgpControl::on_reply(const bgp::BirdReply& reply) {
    answer_timer_.cancel();
    if (link_ == Link::greeting) {
        if (reply.code() != 1) {
            lost(fmt::format("unexpected greeting '{}'", reply.last_text()));
            return;
        }
        link_ = Link::ready;
        link_since_ = Moment::now();
        link_down_reason_.clear();
        bird_version_ = reply.last_text();
        unreachable_logged_ = false;
        fmt::print(stderr, "lb: bgp: connected to BIRD at {} ({})\n", socket_path_, bird_version_);
        // Whatever BIRD loaded before (an older file, or ours before lb restarted), it loads
        // the current one now.
        want_configure_ = want_protocols_ = true;
        send_next();
        publish();
        return;
    }
    if (!in_flight_)
        return; // nothing asked: ignore
    const InFlight done = std::move(*in_flight_);
    in_flight_.reset();
    switch (done.ask) {
    case Ask::configure:
        if (bgp::configure_succeeded(reply)) {
            ++reconfigurations_;
            confirmed_generation_ = std::max(confirmed_generation_, done.generation);
            confirmed_ = done.vips;
            bird_error_.clear();
        } else {
            ++bird_errors_;
            std::string said;
            for (const auto& l : reply.lines)
                said += (said.empty() ? "" : " / ") + l.text;
            bird_error_ = fmt::format("configure refused: {}", said);
            fmt::print(stderr, "lb: bgp: error: BIRD refused {}: {}\n", settings().config, said);
        }
        break;
    case Ask::protocols:
        if (!reply.error())
            protocols_ = bgp::parse_show_protocols(reply);
        break;
    case Ask::bfd:
        // No BFD protocol: BIRD answers with an error; there are no sessions to show.
        bfd_ = reply.error() ? std::vector<bgp::BfdRow>{} : bgp::parse_show_bfd_sessions(reply);
        break;
    }
    send_next();
    publish();
}

// One command at a time, the reload first: replies then need no matching.
void BgpControl::send_next() {
    if (link_ != Link::ready || in_flight_)
        return;
    std::string command;
    if (want_configure_ && !write_failed_) {
        want_configure_ = false;
        in_flight_ = InFlight{Ask::configure, generation_, written_};
        command = bgp::configure_command(settings().config);
    } else if (want_protocols_) {
        want_protocols_ = false;
        in_flight_ = InFlight{Ask::protocols, 0, {}};
        command = "show protocols\n";
    } else if (want_bfd_) {
        want_bfd_ = false;
        in_flight_ = InFlight{Ask::bfd, 0, {}};
        command = "show bfd sessions\n";
    } else {
        return;
    }
    answer_timer_.expires_after(answer_deadline);
    answer_timer_.async_wait([this](const boost::system::error_code& e) {
        if (!e && in_flight_)
            lost("BIRD did not answer within 15 s");
    });
    // Commands are a few dozen bytes: the socket's buffer takes them whole.
    auto text = std::make_shared<std::string>(std::move(command));
    boost::asio::async_write(socket_, boost::asio::buffer(*text),
                             [this, text](const boost::system::error_code& ec, std::size_t) {
                                 if (ec && ec != boost::asio::error::operation_aborted)
                                     lost(ec.message());
                             });
}

void BgpControl::schedule_poll() {
    poll_timer_.expires_after(poll_period);
    poll_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec)
            return;
        // Also what picks up a first health check that passed: that changes no server's
        // up/down state, so no health event announces it.
        update();
        want_protocols_ = true;
        want_bfd_ = std::any_of(settings().neighbors.begin(), settings().neighbors.end(),
                                [](const auto& n) { return n.bfd; });
        send_next();
        schedule_poll();
    });
}

// ---- lbctl and metrics ----------------------------------------------------------------------

void BgpControl::publish() {
    control::report::BgpReport r;
    r.bird = link_ == Link::ready                                ? "connected"
             : link_ == Link::connecting && !unreachable_logged_ ? "connecting"
             : link_ == Link::greeting                           ? "connecting"
                                                                 : "not reachable";
    r.bird_error = bird_error_;
    r.bird_connected = link_ == Link::ready;
    r.bird_since = link_since_;
    if (!r.bird_connected)
        r.bird_down_reason = !link_down_reason_.empty()
                                 ? link_down_reason_
                                 : fmt::format("connecting to {}", settings().socket);
    else
        r.bird_version = bird_version_;
    r.socket = settings().socket;
    r.config = settings().config;
    r.drained = drained_;
    r.drained_since = drained_ ? drained_since_ : std::nullopt;
    r.drain_state_file = settings().drain_state_file;
    r.drain_not_kept = drain_not_kept_;
    r.shutting_down = shutting_down_;
    r.reconfigurations = reconfigurations_;
    r.bird_errors = bird_errors_;
    for (const auto& d : decisions_)
        r.vips.push_back({format_ipv4(d.vip), d.announce,
                          link_ == Link::ready && contains(confirmed_, d.vip), d.reason,
                          d.services});
    const auto& neighbors = settings().neighbors;
    for (std::size_t i = 0; i < neighbors.size(); ++i) {
        control::report::BgpNeighborReport n;
        n.address = format_ipv4(neighbors[i].address);
        n.as = neighbors[i].as;
        n.protocol = bgp::bgp_protocol_name(i);
        n.bfd = neighbors[i].bfd;
        // Without BIRD nothing is known of the sessions: said so, rather than a blank row.
        n.state = r.bird_connected ? "unknown" : "unknown (BIRD down)";
        for (const auto& p : protocols_)
            if (p.name == n.protocol) {
                n.state = p.state;
                n.info = p.info;
                n.established = p.info.starts_with("Established");
            }
        for (const auto& b : bfd_)
            if (b.address == n.address)
                n.bfd_state = b.state;
        r.neighbors.push_back(std::move(n));
    }
    balancer_.reports().publish("bgp",
                                [r = std::move(r)](control::report::StatsView& v) { v.bgp = r; });
}

BgpControl::DrainOutcome BgpControl::set_drained(bool drained) {
    const bool was = drained_;
    drained_ = drained;
    if (!drained)
        drained_since_.reset();
    else if (!was || !drained_since_)
        drained_since_ = std::chrono::system_clock::now();
    // Written again even when nothing changed: a file that could not be written before may be
    // writable now, and the operator asking again is the moment to try.
    keep_drain_state();
    update();
    const auto count = static_cast<std::size_t>(std::count_if(
        decisions_.begin(), decisions_.end(), [](const auto& d) { return !d.services.empty(); }));
    std::string message;
    if (drained)
        message = was ? fmt::format("node already drained since {}: no VIP is announced\n",
                                    iso8601_ms(*drained_since_))
                      : fmt::format("node drained: {} VIP(s) withdrawn; established connections "
                                    "keep being served; 'lbctl drain-node --undo' announces them "
                                    "again\n",
                                    count);
    else
        message = was ? "node undrained: VIPs are announced again by the quorum rule (lbctl bgp)\n"
                      : "node was not drained: nothing changed\n";
    if (!drain_not_kept_.empty())
        message += fmt::format("warning: this will not survive a restart ({}): after one the node "
                               "starts {}\n",
                               drain_not_kept_, drained ? "announcing again" : "drained again");
    return {std::move(message), drain_not_kept_};
}

// A node drained before lb stopped starts drained (modules/bgp/drain_state.hpp), and says how
// to undo it: whoever restarted it may not be who drained it.
void BgpControl::restore_drain_state() {
    drain_file_ = settings().drain_state_file;
    const bgp::DrainState state = bgp::read_drain_state(drain_file_);
    if (state.warning)
        fmt::print(stderr, "lb: bgp: warning: {}; starting drained to be safe\n", *state.warning);
    if (!state.drained)
        return;
    drained_ = true;
    drained_since_ = state.since;
    fmt::print(stderr,
               "lb: bgp: node drained since {} ({} says so): announcing no VIP; 'lbctl "
               "drain-node --undo' announces them again\n",
               state.since ? iso8601_ms(*state.since) : "an unknown time", drain_file_);
}

// The drained state where the configuration says; a failure costs only the next restart, which
// the log and lbctl say.
void BgpControl::keep_drain_state() {
    drain_file_ = settings().drain_state_file;
    try {
        bgp::write_drain_state(drain_file_, drained_,
                               drained_since_.value_or(std::chrono::system_clock::now()));
        drain_not_kept_.clear();
    } catch (const bgp::DrainStateError& e) {
        drain_not_kept_ = e.what();
        fmt::print(stderr,
                   "lb: bgp: warning: {}: the node is {} now, but a restart will start it {}\n",
                   drain_not_kept_, drained_ ? "drained" : "not drained",
                   drained_ ? "announcing again" : "drained again");
    }
}

// ---- clean shutdown ------------------------------------------------------------------------

void BgpControl::shutdown(std::function<void()> done) {
    shutdown_done_ = std::move(done);
    shutdown_start_ = Clock::now();
    shutting_down_ = true;
    fmt::print(stderr, "lb: bgp: withdrawing every VIP before stopping (at most {})\n",
               control::config::format_duration(settings().drain_timeout));
    update();
    shutdown_step();
}

void BgpControl::shutdown_step() {
    const auto now = Clock::now();
    const auto elapsed = now - shutdown_start_;
    const bool timed_out = elapsed >= settings().drain_timeout;
    if (!withdrawn_at_) {
        if (confirmed_generation_ >= generation_ && link_ == Link::ready) {
            fmt::print(stderr, "lb: bgp: BIRD confirmed the withdrawal after {} ms\n",
                       std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
            withdrawn_at_ = now;
        } else if (link_ != Link::ready && link_ != Link::greeting) {
            // No BIRD to tell: its sessions end with lb's tap, which the router notices (BFD,
            // or the hold time).
            fmt::print(stderr, "lb: bgp: BIRD not connected: its sessions fail when lb's "
                               "interfaces go\n");
            withdrawn_at_ = now - settle;
        } else if (timed_out) {
            fmt::print(stderr, "lb: bgp: BIRD did not confirm the withdrawal within {}\n",
                       control::config::format_duration(settings().drain_timeout));
            withdrawn_at_ = now - settle;
        }
    }
    if (withdrawn_at_ && now - *withdrawn_at_ >= settle) {
        const std::size_t active = balancer_.context().connections->size();
        if (active == 0 || timed_out) {
            fmt::print(stderr, "lb: bgp: drained after {} ms ({} connection(s) left)\n",
                       std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(),
                       active);
            auto done = std::move(shutdown_done_);
            shutdown_done_ = nullptr;
            if (done)
                done();
            return;
        }
    }
    shutdown_timer_.expires_after(shutdown_step_period);
    shutdown_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec)
            shutdown_step();
    });
}

} // namespace lb::app
