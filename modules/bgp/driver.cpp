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
#include "modules/bgp/bird_reply.hpp"
#include "modules/bgp/drain_state.hpp"

namespace lb::app {

namespace bgp = control::bgp;
using control::config::format_ipv4;
using Clock = std::chrono::steady_clock;
using control::report::iso8601_ms;
using control::report::Moment;

namespace {

constexpr std::chrono::seconds poll_period{1};

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

void log_line(const std::string& line) {
    fmt::print(stderr, "lb: bgp: {}\n", line);
}

} // namespace

BgpControl::BgpControl(boost::asio::io_context& io, Balancer& balancer, HealthView health)
    : io_(io), balancer_(balancer), health_(std::move(health)),
      settings_(balancer.config().bgp.value()), socket_(io),
      session_(bird_io(), settings_.socket, settings_.config, Moment::now()), poll_timer_(io),
      wake_timer_(io), shutdown_timer_(io) {
    // The path is checked here, where an operator's mistake stops lb at start.
    (void)bgp::configure_command(settings().config);
}

BgpControl::~BgpControl() = default;

void BgpControl::start() {
    fmt::print(stderr, "lb: bgp: BIRD configuration {}, control socket {}\n", settings().config,
               settings().socket);
    restore_drain_state();
    update();
    session_.connect();
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
    auto next =
        bgp::decide_announcements(running, h.down, h.statuses, drained_ || shutdown_ || removed);
    log_changes(next);
    decisions_ = std::move(next);
    const auto vips = announced(decisions_);
    const std::string text = bgp::bird_config_text(running, vips);
    if (text != text_ || session_.write_failed()) {
        if (write_file(text)) {
            text_ = text;
            session_.file_written(vips);
        }
    }
    // A reload that moved the drained state's file: the running state goes there, where the next
    // start reads it.
    if (!drain_file_.empty() && drain_file_ != settings().drain_state_file)
        keep_drain_state();
    // A reload that moved BIRD's socket: talk to the new one.
    session_.update(settings().socket, settings().config, Moment::now());
    after_event();
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
        return true;
    } catch (const std::exception& e) {
        session_.file_write_failed(e.what());
    }
    return false;
}

// ---- the control socket ----------------------------------------------------------------------

bgp::BirdIo BgpControl::bird_io() {
    return {
        [this](const std::string& socket) { connect(socket); },
        [this](const std::string& command) { send(command); },
        [this] {
            boost::system::error_code ignored;
            socket_.close(ignored);
        },
        log_line,
    };
}

void BgpControl::connect(const std::string& socket) {
    socket_ = boost::asio::local::stream_protocol::socket(io_);
    socket_.async_connect(boost::asio::local::stream_protocol::endpoint(socket),
                          [this](const boost::system::error_code& ec) {
                              if (ec == boost::asio::error::operation_aborted)
                                  return;
                              if (ec) {
                                  session_.connect_failed(ec.message(), Moment::now());
                              } else {
                                  session_.connected(Moment::now());
                                  read();
                              }
                              after_event();
                          });
}

void BgpControl::read() {
    socket_.async_read_some(
        boost::asio::buffer(chunk_), [this](const boost::system::error_code& ec, std::size_t n) {
            if (ec == boost::asio::error::operation_aborted)
                return;
            if (ec) {
                session_.lost(ec == boost::asio::error::eof ? "BIRD closed the control connection"
                                                            : ec.message(),
                              Moment::now());
            } else {
                session_.received(std::string_view(chunk_.data(), n), Moment::now());
                if (session_.link() != bgp::BirdSession::Link::idle)
                    read();
            }
            after_event();
        });
}

void BgpControl::send(const std::string& command) {
    // Commands are a few dozen bytes: the socket's buffer takes them whole.
    auto text = std::make_shared<std::string>(command);
    boost::asio::async_write(socket_, boost::asio::buffer(*text),
                             [this, text](const boost::system::error_code& ec, std::size_t) {
                                 if (ec && ec != boost::asio::error::operation_aborted) {
                                     session_.lost(ec.message(), Moment::now());
                                     after_event();
                                 }
                             });
}

// One timer for the session's deadlines. tick() checks them itself, so a wait that completes
// after being re-armed does no harm.
void BgpControl::after_event() {
    if (const auto at = session_.next_deadline()) {
        wake_timer_.expires_at(*at);
        wake_timer_.async_wait([this](const boost::system::error_code& ec) {
            if (ec)
                return;
            session_.tick(Moment::now());
            after_event();
        });
    } else {
        wake_timer_.cancel();
    }
    publish();
}

void BgpControl::schedule_poll() {
    poll_timer_.expires_after(poll_period);
    poll_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec)
            return;
        // Also what picks up a first health check that passed: that changes no server's
        // up/down state, so no health event announces it.
        update();
        session_.poll(std::any_of(settings().neighbors.begin(), settings().neighbors.end(),
                                  [](const auto& n) { return n.bfd; }),
                      Moment::now());
        after_event();
        schedule_poll();
    });
}

// ---- lbctl and metrics ----------------------------------------------------------------------

void BgpControl::publish() {
    control::report::BgpReport r;
    r.bird = session_.link_word();
    r.bird_error = session_.error();
    r.bird_connected = session_.ready();
    r.bird_since = session_.since();
    if (!r.bird_connected)
        r.bird_down_reason = session_.down_reason();
    else
        r.bird_version = session_.version();
    r.socket = settings().socket;
    r.config = settings().config;
    r.drained = drained_;
    r.drained_since = drained_ ? drained_since_ : std::nullopt;
    r.drain_state_file = settings().drain_state_file;
    r.drain_not_kept = drain_not_kept_;
    r.shutting_down = shutdown_.has_value();
    r.reconfigurations = session_.reconfigurations();
    r.bird_errors = session_.errors();
    for (const auto& d : decisions_)
        r.vips.push_back({format_ipv4(d.vip), d.announce,
                          session_.ready() && contains(session_.confirmed(), d.vip), d.reason,
                          d.services});
    const auto& neighbors = settings().neighbors;
    for (std::size_t i = 0; i < neighbors.size(); ++i) {
        control::report::BgpNeighborReport n;
        n.address = control::config::format_ip(neighbors[i].address);
        n.as = neighbors[i].as;
        n.protocol = bgp::bgp_protocol_name(i);
        n.bfd = neighbors[i].bfd;
        // Without BIRD nothing is known of the sessions: said so, rather than a blank row.
        n.state = r.bird_connected ? "unknown" : "unknown (BIRD down)";
        for (const auto& p : session_.protocols())
            if (p.name == n.protocol) {
                n.state = p.state;
                n.info = p.info;
                n.established = p.info.starts_with("Established");
            }
        for (const auto& b : session_.bfd())
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
    shutdown_.emplace(Clock::now());
    fmt::print(stderr, "lb: bgp: withdrawing every VIP before stopping (at most {})\n",
               control::config::format_duration(settings().drain_timeout));
    update();
    shutdown_step();
}

void BgpControl::shutdown_step() {
    const bool done = shutdown_->step(
        Clock::now(), settings().drain_timeout, bgp::ShutdownSequence::of(session_),
        [this] { return balancer_.context().connections->size(); }, log_line);
    if (done) {
        auto call = std::move(shutdown_done_);
        shutdown_done_ = nullptr;
        if (call)
            call();
        return;
    }
    shutdown_timer_.expires_after(bgp::ShutdownSequence::period);
    shutdown_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec)
            shutdown_step();
    });
}

} // namespace lb::app
