#include "modules/bgp/bird_session.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

namespace lb::control::bgp {

BirdSession::BirdSession(BirdIo io, std::string socket, std::string config, Moment now)
    : io_(std::move(io)), socket_(std::move(socket)), config_(std::move(config)), since_(now) {}

void BirdSession::connect() {
    if (link_ != Link::idle)
        return;
    connected_to_ = socket_;
    link_ = Link::connecting;
    io_.connect(connected_to_);
}

void BirdSession::connected(Moment now) {
    if (link_ != Link::connecting)
        return;
    link_ = Link::greeting;
    received_.clear();
    answer_by_ = now.monotonic + answer_deadline;
}

void BirdSession::connect_failed(const std::string& why, Moment now) {
    if (link_ != Link::connecting)
        return;
    link_ = Link::idle;
    if (!unreachable_logged_) {
        io_.log(fmt::format("BIRD not reachable at {} ({}); retrying every second (is bird "
                            "running with -s {}?)",
                            connected_to_, why, connected_to_));
        unreachable_logged_ = true;
    }
    error_ = fmt::format("cannot connect to {}: {}", connected_to_, why);
    down_reason_ = error_;
    retry_at_ = now.monotonic + retry_period;
}

void BirdSession::received(std::string_view bytes, Moment now) {
    received_.append(bytes);
    try {
        while (link_ != Link::idle) {
            auto reply = take_bird_reply(received_);
            if (!reply)
                break;
            on_reply(*reply, now);
        }
    } catch (const std::exception& e) {
        lost(e.what(), now);
    }
}

void BirdSession::lost(const std::string& why, Moment now) {
    if (link_ == Link::idle)
        return;
    const bool had_answered = link_ == Link::ready || link_ == Link::greeting;
    if (link_ == Link::ready)
        since_ = now;
    down_reason_ = why;
    io_.close();
    answer_by_.reset();
    link_ = Link::idle;
    in_flight_.reset();
    protocols_.clear();
    bfd_.clear();
    error_ = why;
    if (had_answered) {
        ++errors_;
        io_.log(fmt::format("lost BIRD's control connection: {}; reconnecting", why));
        unreachable_logged_ = false;
    }
    retry_at_ = now.monotonic + retry_period;
}

void BirdSession::tick(Moment now) {
    if (answer_by_ && now.monotonic >= *answer_by_) {
        answer_by_.reset();
        if (link_ == Link::greeting)
            lost("BIRD sent no greeting", now);
        else if (in_flight_)
            lost("BIRD did not answer within 15 s", now);
    }
    if (retry_at_ && now.monotonic >= *retry_at_) {
        retry_at_.reset();
        connect();
    }
}

std::optional<BirdSession::Clock::time_point> BirdSession::next_deadline() const {
    if (answer_by_ && retry_at_)
        return std::min(*answer_by_, *retry_at_);
    return answer_by_ ? answer_by_ : retry_at_;
}

void BirdSession::file_written(std::vector<std::uint32_t> vips) {
    written_ = std::move(vips);
    ++generation_;
    want_configure_ = true;
    write_failed_ = false;
}

void BirdSession::file_write_failed(const std::string& error) {
    error_ = error;
    if (!write_failed_) {
        io_.log(fmt::format("error: {} (retried every second)", error));
        ++errors_;
    }
    write_failed_ = true;
}

void BirdSession::update(const std::string& socket, const std::string& config, Moment now) {
    socket_ = socket;
    config_ = config;
    if (link_ != Link::idle && connected_to_ != socket_)
        lost(fmt::format("bgp.socket changed to {}", socket_), now);
    send_next(now);
}

void BirdSession::poll(bool bfd, Moment now) {
    want_protocols_ = true;
    want_bfd_ = bfd;
    send_next(now);
}

void BirdSession::on_reply(const BirdReply& reply, Moment now) {
    answer_by_.reset();
    if (link_ == Link::greeting) {
        on_greeting(reply, now);
        return;
    }
    if (!in_flight_)
        return; // nothing asked: ignore
    const InFlight asked = std::move(*in_flight_);
    in_flight_.reset();
    on_answer(asked, reply);
    send_next(now);
}

void BirdSession::on_greeting(const BirdReply& reply, Moment now) {
    if (reply.code() != 1) {
        lost(fmt::format("unexpected greeting '{}'", reply.last_text()), now);
        return;
    }
    link_ = Link::ready;
    since_ = now;
    down_reason_.clear();
    version_ = reply.last_text();
    unreachable_logged_ = false;
    io_.log(fmt::format("connected to BIRD at {} ({})", connected_to_, version_));
    // Whatever BIRD loaded before (an older file, or ours before lb restarted), it loads the
    // current one now.
    want_configure_ = want_protocols_ = true;
    send_next(now);
}

void BirdSession::on_answer(const InFlight& asked, const BirdReply& reply) {
    switch (asked.ask) {
    case Ask::configure:
        if (configure_succeeded(reply)) {
            ++reconfigurations_;
            confirmed_generation_ = std::max(confirmed_generation_, asked.generation);
            confirmed_ = asked.vips;
            error_.clear();
        } else {
            ++errors_;
            std::string said;
            for (const auto& l : reply.lines)
                said += (said.empty() ? "" : " / ") + l.text;
            error_ = fmt::format("configure refused: {}", said);
            io_.log(fmt::format("error: BIRD refused {}: {}", config_, said));
        }
        break;
    case Ask::protocols:
        if (!reply.error())
            protocols_ = parse_show_protocols(reply);
        break;
    case Ask::bfd:
        // No BFD protocol: BIRD answers with an error; there are no sessions to show.
        bfd_ = reply.error() ? std::vector<BfdRow>{} : parse_show_bfd_sessions(reply);
        break;
    }
}

// One command at a time, the reload first: replies then need no matching.
void BirdSession::send_next(Moment now) {
    if (link_ != Link::ready || in_flight_)
        return;
    std::string command;
    if (want_configure_ && !write_failed_) {
        want_configure_ = false;
        in_flight_ = InFlight{Ask::configure, generation_, written_};
        command = configure_command(config_);
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
    answer_by_ = now.monotonic + answer_deadline;
    io_.send(command);
}

std::string BirdSession::link_word() const {
    if (link_ == Link::ready)
        return "connected";
    if (link_ == Link::greeting || (link_ == Link::connecting && !unreachable_logged_))
        return "connecting";
    return "not reachable";
}

std::string BirdSession::down_reason() const {
    if (ready())
        return "";
    return !down_reason_.empty() ? down_reason_ : fmt::format("connecting to {}", socket_);
}

} // namespace lb::control::bgp
