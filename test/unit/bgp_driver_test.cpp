// The BGP driver's state machines on a fake clock (issue 22): the conversation with BIRD
// (modules/bgp/bird_session) fed BIRD's replies as BIRD writes them, and the clean shutdown
// (modules/bgp/shutdown_sequence). What the driver would do is recorded as a transcript:
// "connect PATH", "send COMMAND", "close", "log LINE".
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "modules/bgp/bird_session.hpp"
#include "modules/bgp/shutdown_sequence.hpp"

using namespace std::chrono_literals;
using lb::control::bgp::BirdIo;
using lb::control::bgp::BirdSession;
using lb::control::bgp::ShutdownSequence;
using lb::control::report::Moment;
using Link = BirdSession::Link;
using Bird = ShutdownSequence::Bird;

namespace {

const std::string socket_path = "/run/bird/bird.ctl";
const std::string config_path = "/run/lb/bird.conf";
const std::string configure = "configure \"/run/lb/bird.conf\"\n";
const std::string greeting = "0001 BIRD 2.0.12 ready.\n";
const std::string reconfigured = "0003 Reconfigured\n";
const std::string protocols = "2002-Name       Proto      Table      State  Since         Info\n"
                              "1002-device1    Device     ---        up     20:10:11.123  \n"
                              " lb_peer1   BGP        ---        up     20:10:12.001  Established\n"
                              "0000 \n";
const std::string bfd_sessions =
    "1020-lb_bfd:\n"
    " IP address                Interface  State      Since         Interval  Timeout\n"
    " 198.51.100.1              lb-ext     Up         20:10:12.001    0.100    0.300\n"
    "0000 \n";
constexpr std::uint32_t vip = 0xc0000264; // 192.0.2.100

// Time moves only when a test says so; the wall clock moves with it.
struct FakeClock {
    std::chrono::steady_clock::time_point monotonic{std::chrono::hours(100)};
    std::chrono::system_clock::time_point wall{std::chrono::hours(480'000)};
    void advance(std::chrono::milliseconds d) {
        monotonic += d;
        wall += d;
    }
    Moment now() const { return {wall, monotonic}; }
};

struct Fixture {
    FakeClock clock;
    std::vector<std::string> did;
    BirdSession session{BirdIo{
                            [this](const std::string& s) { did.push_back("connect " + s); },
                            [this](const std::string& c) { did.push_back("send " + c); },
                            [this] { did.push_back("close"); },
                            [this](const std::string& l) { did.push_back("log " + l); },
                        },
                        socket_path, config_path, clock.now()};

    // What was done since the last call.
    std::vector<std::string> take() { return std::exchange(did, {}); }
    void reply(const std::string& text) { session.received(text, clock.now()); }
    // Connected and greeted, the file announcing `vips` written and loaded, the first
    // `show protocols` answered: nothing in flight.
    void up(std::vector<std::uint32_t> vips = {vip}) {
        session.file_written(std::move(vips));
        session.connect();
        session.connected(clock.now());
        reply(greeting);
        reply(reconfigured);
        reply(protocols);
        REQUIRE(session.ready());
        take();
    }
};

} // namespace

TEST_CASE("bgp driver: connect, hello, the file loaded, then the protocols", "[bgp]") {
    Fixture f;
    f.session.file_written({vip});
    CHECK(f.session.link_word() == "not reachable"); // not even trying yet
    f.session.connect();
    CHECK(f.take() == std::vector<std::string>{"connect " + socket_path});
    CHECK(f.session.link_word() == "connecting");
    f.session.connect(); // under way: not twice
    CHECK(f.take().empty());

    f.clock.advance(20ms);
    f.session.connected(f.clock.now());
    CHECK(f.session.link() == Link::greeting);
    CHECK(f.session.next_deadline() == f.clock.monotonic + 15s); // the greeting is due
    CHECK(f.take().empty());

    f.clock.advance(5ms);
    f.reply("0001 BIRD 2.0.12 ");
    CHECK(f.session.link() == Link::greeting); // half a line is no reply
    f.reply("ready.\n");
    CHECK(f.session.ready());
    CHECK(f.session.version() == "BIRD 2.0.12 ready.");
    CHECK(f.session.since().monotonic == f.clock.monotonic);
    CHECK(f.session.down_reason().empty());
    // Whatever BIRD loaded before, it loads lb's file first.
    CHECK(f.take() == std::vector<std::string>{
                          "log connected to BIRD at /run/bird/bird.ctl (BIRD 2.0.12 ready.)",
                          "send " + configure});
    CHECK_FALSE(f.session.confirmed_latest());

    f.clock.advance(30ms);
    f.reply(reconfigured);
    CHECK(f.session.reconfigurations() == 1);
    CHECK(f.session.errors() == 0);
    CHECK(f.session.confirmed() == std::vector<std::uint32_t>{vip});
    CHECK(f.session.confirmed_latest());
    CHECK(f.take() == std::vector<std::string>{"send show protocols\n"});
    CHECK(f.session.next_deadline() == f.clock.monotonic + 15s);

    f.reply(protocols);
    REQUIRE(f.session.protocols().size() == 2);
    CHECK(f.session.protocols()[1].info == "Established");
    CHECK(f.take().empty());
    CHECK_FALSE(f.session.next_deadline()); // nothing asked, nothing to retry

    // The poll: protocols, then BFD sessions, one at a time.
    f.session.poll(true, f.clock.now());
    CHECK(f.take() == std::vector<std::string>{"send show protocols\n"});
    f.session.poll(true, f.clock.now()); // asked again before the answer: still one in flight
    CHECK(f.take().empty());
    f.reply(protocols);
    CHECK(f.take() == std::vector<std::string>{"send show protocols\n"}); // the second poll
    f.reply(protocols);
    CHECK(f.take() == std::vector<std::string>{"send show bfd sessions\n"});
    f.reply(bfd_sessions);
    REQUIRE(f.session.bfd().size() == 1);
    CHECK(f.session.bfd()[0].state == "Up");
    CHECK(f.take().empty());
}

TEST_CASE("bgp driver: a refused configure is a BIRD error and the session goes on", "[bgp]") {
    Fixture f;
    f.up();
    f.session.file_written({});
    f.session.update(socket_path, config_path, f.clock.now());
    CHECK(f.take() == std::vector<std::string>{"send " + configure});
    f.reply("8002 /run/lb/bird.conf, line 3: syntax error\n");
    CHECK(f.session.errors() == 1);
    CHECK(f.session.reconfigurations() == 1); // the first file only
    CHECK(f.session.error() == "configure refused: /run/lb/bird.conf, line 3: syntax error");
    CHECK_FALSE(f.session.confirmed_latest());
    CHECK(f.session.confirmed() == std::vector<std::uint32_t>{vip}); // still the old file
    CHECK(f.session.ready());
    CHECK(f.take() == std::vector<std::string>{
                          "log error: BIRD refused /run/lb/bird.conf: /run/lb/bird.conf, line 3: "
                          "syntax error"});
    // A later file that BIRD accepts clears the error.
    f.session.file_written({});
    f.session.update(socket_path, config_path, f.clock.now());
    f.reply(reconfigured);
    CHECK(f.session.error().empty());
    CHECK(f.session.confirmed_latest());
    CHECK(f.session.errors() == 1);
}

TEST_CASE("bgp driver: the connection lost mid-command; commands neither lost nor doubled",
          "[bgp]") {
    Fixture f;
    f.up();
    f.session.file_written({});
    f.session.update(socket_path, config_path, f.clock.now());
    CHECK(f.take() == std::vector<std::string>{"send " + configure});
    // A newer file while the configure is in flight waits for its answer.
    f.session.file_written({vip});
    f.session.update(socket_path, config_path, f.clock.now());
    f.session.poll(false, f.clock.now());
    CHECK(f.take().empty());

    f.clock.advance(100ms);
    const auto lost_at = f.clock.now();
    f.session.lost("BIRD closed the control connection", lost_at);
    CHECK(f.session.link() == Link::idle);
    CHECK(f.session.errors() == 1);
    CHECK(f.session.since().monotonic == lost_at.monotonic);
    CHECK(f.session.down_reason() == "BIRD closed the control connection");
    CHECK(f.session.protocols().empty()); // nothing known of the sessions without BIRD
    CHECK(f.take() == std::vector<std::string>{
                          "close", "log lost BIRD's control connection: BIRD closed the control "
                                   "connection; reconnecting"});
    // The lost configure's answer never counts, even if bytes of it were still read.
    f.reply(reconfigured);
    CHECK(f.session.reconfigurations() == 1);
    // Asked while down: remembered, sent once up.
    f.session.poll(false, f.clock.now());
    CHECK(f.take().empty());

    CHECK(f.session.next_deadline() == lost_at.monotonic + 1s);
    f.clock.advance(999ms);
    f.session.tick(f.clock.now());
    CHECK(f.take().empty());
    f.clock.advance(1ms);
    f.session.tick(f.clock.now());
    CHECK(f.take() == std::vector<std::string>{"connect " + socket_path});

    f.session.connected(f.clock.now());
    f.reply(greeting);
    auto after = f.take();
    REQUIRE(after.size() == 2);
    CHECK(after[1] == "send " + configure); // the newest file, once
    f.reply(reconfigured);
    CHECK(f.session.confirmed() == std::vector<std::uint32_t>{vip});
    CHECK(f.session.confirmed_latest());
    CHECK(f.take() == std::vector<std::string>{"send show protocols\n"});
    f.reply(protocols);
    CHECK(f.take().empty()); // one `show protocols` for every poll asked while down
    CHECK(f.session.reconfigurations() == 2);
}

TEST_CASE("bgp driver: every (re)connection reloads the file", "[bgp]") {
    // BIRD restarted with its own configuration, or an older file of lb's: nothing changed on
    // lb's side, yet BIRD must load the current file again.
    Fixture f;
    f.up();
    f.session.lost("BIRD closed the control connection", f.clock.now());
    f.clock.advance(1s);
    f.session.tick(f.clock.now());
    f.session.connected(f.clock.now());
    f.take();
    f.reply("0001 BIRD 2.0.12 ready.\n");
    CHECK(f.take().back() == "send " + configure);
    f.reply(reconfigured);
    CHECK(f.session.reconfigurations() == 2);
}

TEST_CASE("bgp driver: BIRD down since when, and why", "[bgp]") {
    Fixture f;
    const auto started = f.clock.now();
    CHECK_FALSE(f.session.ready());
    CHECK(f.session.since().monotonic == started.monotonic);
    CHECK(f.session.since().wall == started.wall);
    CHECK(f.session.down_reason() == "connecting to /run/bird/bird.ctl");

    f.session.connect();
    f.clock.advance(2ms);
    f.session.connect_failed("No such file or directory", f.clock.now());
    CHECK(f.session.link_word() == "not reachable");
    CHECK(f.session.since().monotonic == started.monotonic); // down since the start
    CHECK(f.session.down_reason() ==
          "cannot connect to /run/bird/bird.ctl: No such file or directory");
    CHECK(f.session.errors() == 0); // BIRD not running yet is not an error of BIRD's
    auto first = f.take();
    REQUIRE(first.size() == 2);
    CHECK(first[1].starts_with("log BIRD not reachable at /run/bird/bird.ctl"));
    CHECK(f.session.next_deadline() == f.clock.monotonic + 1s);

    // Retried every second, logged once.
    for (int i = 0; i < 3; ++i) {
        f.clock.advance(1s);
        f.session.tick(f.clock.now());
        CHECK(f.take() == std::vector<std::string>{"connect " + socket_path});
        f.session.connect_failed("Connection refused", f.clock.now());
        CHECK(f.take().empty());
    }
    CHECK(f.session.down_reason() == "cannot connect to /run/bird/bird.ctl: Connection refused");

    f.clock.advance(1s);
    f.session.tick(f.clock.now());
    f.session.connected(f.clock.now());
    CHECK(f.session.link_word() == "connecting");
    f.reply(greeting);
    const auto up_at = f.clock.now();
    CHECK(f.session.link_word() == "connected");
    CHECK(f.session.since().wall == up_at.wall);

    f.clock.advance(42s);
    f.session.lost("Connection reset by peer", f.clock.now());
    CHECK(f.session.since().wall == up_at.wall + 42s);
    CHECK(f.session.down_reason() == "Connection reset by peer");
    CHECK(f.session.error() == "Connection reset by peer");
}

TEST_CASE("bgp driver: BIRD silent for 15 s ends the link", "[bgp]") {
    Fixture f;
    f.session.connect();
    f.session.connected(f.clock.now());
    f.take();
    SECTION("no greeting") {
        f.clock.advance(15s - 1ms);
        f.session.tick(f.clock.now());
        CHECK(f.session.link() == Link::greeting);
        f.clock.advance(1ms);
        f.session.tick(f.clock.now());
        CHECK(f.session.link() == Link::idle);
        CHECK(f.session.down_reason() == "BIRD sent no greeting");
        CHECK(f.session.errors() == 1); // BIRD answered the connection: its error
        CHECK(f.take() ==
              std::vector<std::string>{"close", "log lost BIRD's control connection: BIRD sent no "
                                                "greeting; reconnecting"});
    }
    SECTION("no answer") {
        f.reply(greeting);
        f.take();
        f.clock.advance(15s);
        f.session.tick(f.clock.now());
        CHECK(f.session.link() == Link::idle);
        CHECK(f.session.down_reason() == "BIRD did not answer within 15 s");
        CHECK(f.session.errors() == 1);
        CHECK(f.session.next_deadline() == f.clock.monotonic + 1s);
    }
    SECTION("not BIRD") {
        f.reply("HTTP/1.1 400 Bad Request\n");
        CHECK(f.session.link() == Link::idle);
        CHECK(f.take() == std::vector<std::string>{
                              "close", "log lost BIRD's control connection: not a BIRD reply "
                                       "line: 'HTTP/1.1 400 Bad Request'; reconnecting"});
    }
    SECTION("a greeting that is not one") {
        f.reply("9001 syntax error\n");
        CHECK(f.session.link() == Link::idle);
        CHECK(f.session.down_reason() == "unexpected greeting 'syntax error'");
    }
}

TEST_CASE("bgp driver: a reload that moves the socket reconnects there", "[bgp]") {
    Fixture f;
    f.up();
    f.session.update("/run/bird2/bird.ctl", config_path, f.clock.now());
    CHECK(f.session.link() == Link::idle);
    CHECK(f.session.down_reason() == "bgp.socket changed to /run/bird2/bird.ctl");
    f.take();
    f.clock.advance(1s);
    f.session.tick(f.clock.now());
    CHECK(f.take() == std::vector<std::string>{"connect /run/bird2/bird.ctl"});
}

TEST_CASE("bgp driver: a file that cannot be written is not loaded, and counted once", "[bgp]") {
    Fixture f;
    f.session.file_write_failed("cannot write /run/lb/bird.conf: Permission denied");
    f.session.file_write_failed("cannot write /run/lb/bird.conf: Permission denied");
    CHECK(f.session.errors() == 1);
    CHECK(f.session.write_failed());
    CHECK(f.take() == std::vector<std::string>{"log error: cannot write /run/lb/bird.conf: "
                                               "Permission denied (retried every second)"});
    f.session.connect();
    f.session.connected(f.clock.now());
    f.reply(greeting);
    CHECK(f.take().back() == "send show protocols\n"); // no configure of a file not written
    f.reply(protocols);
    f.session.file_written({vip});
    CHECK_FALSE(f.session.write_failed());
    f.session.update(socket_path, config_path, f.clock.now());
    CHECK(f.take() == std::vector<std::string>{"send " + configure});
}

TEST_CASE("bgp driver: drain then shut down, established connections drained", "[bgp]") {
    Fixture f;
    f.up();
    // shutdown(): the file announcing nothing is written and BIRD asked to load it.
    const auto start = f.clock.monotonic;
    ShutdownSequence seq(start);
    f.session.file_written({});
    f.session.update(socket_path, config_path, f.clock.now());
    std::vector<std::string> log;
    int asked = 0;
    std::size_t connections = 3;
    auto step = [&] {
        return seq.step(
            f.clock.monotonic, 30s, ShutdownSequence::of(f.session),
            [&] {
                ++asked;
                return connections;
            },
            [&](const std::string& l) { log.push_back(l); });
    };
    CHECK(ShutdownSequence::of(f.session) == Bird::pending);
    CHECK_FALSE(step());
    f.clock.advance(300ms);
    f.reply(reconfigured);
    CHECK(ShutdownSequence::of(f.session) == Bird::confirmed);
    CHECK_FALSE(step());
    CHECK(log == std::vector<std::string>{"BIRD confirmed the withdrawal after 300 ms"});
    CHECK(seq.withdrawn_at() == f.clock.monotonic);
    // The router settles for a second: connections are not even counted yet.
    f.clock.advance(999ms);
    CHECK_FALSE(step());
    CHECK(asked == 0);
    f.clock.advance(1ms);
    CHECK_FALSE(step()); // settled, but 3 connections left
    CHECK(asked == 1);
    f.clock.advance(5s);
    connections = 0;
    CHECK(step());
    CHECK(log.back() == "drained after 6300 ms (0 connection(s) left)");
}

TEST_CASE("bgp driver: drain_timeout ends the shutdown", "[bgp]") {
    FakeClock clock;
    ShutdownSequence seq(clock.monotonic);
    std::vector<std::string> log;
    auto step = [&](Bird bird, std::size_t connections) {
        return seq.step(
            clock.monotonic, 30s, bird, [&] { return connections; },
            [&](const std::string& l) { log.push_back(l); });
    };
    SECTION("BIRD never confirms") {
        clock.advance(30s - 1ms);
        CHECK_FALSE(step(Bird::pending, 0));
        CHECK(log.empty());
        clock.advance(1ms);
        CHECK(step(Bird::pending, 2)); // no settling after the deadline
        CHECK(log == std::vector<std::string>{"BIRD did not confirm the withdrawal within 30s",
                                              "drained after 30000 ms (2 connection(s) left)"});
    }
    SECTION("connections outlive drain_timeout") {
        clock.advance(100ms);
        CHECK_FALSE(step(Bird::confirmed, 7));
        clock.advance(29'899ms);
        CHECK_FALSE(step(Bird::confirmed, 7));
        clock.advance(1ms);
        CHECK(step(Bird::confirmed, 7));
        CHECK(log.back() == "drained after 30000 ms (7 connection(s) left)");
    }
    SECTION("no BIRD: nothing to withdraw, no settling") {
        CHECK(step(Bird::absent, 0));
        CHECK(log == std::vector<std::string>{
                         "BIRD not connected: its sessions fail when lb's interfaces go",
                         "drained after 0 ms (0 connection(s) left)"});
    }
}
