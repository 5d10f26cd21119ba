// The VRRP driver's decisions on a fake clock (issue 22): modules/vrrp/driver_core with its I/O
// recorded as a transcript — "own SLOT master|not", "log LINE", "notify NAME STATE PRIORITY",
// "advert VRID PRIORITY", "arp", "publish" — and the wake-ups it asks for kept aside. Time
// moves only when a test says so; a wake-up asked is honoured when the clock passes it.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "modules/vrrp/driver_core.hpp"
#include "modules/vrrp/frames.hpp"
#include "test/test_config.hpp"

using namespace lb::control::vrrp;
using namespace std::chrono_literals;

namespace {

// As test/unit/vrrp_router_test.cpp builds them: one interface "ext", 198.51.100.0/24.
std::string node(const std::string& instances, const std::string& extra = "") {
    return "node: {name: n}\ninterfaces:\n  - {name: ext, device: d0, address: "
           "198.51.100.2/24}\nservices:\n  - name: web\n    vip: 198.51.100.100\n    port: 80\n"
           "    real_servers:\n      - {address: 198.51.100.21}\n      - {address: "
           "198.51.100.22}\nvrrp:\n" +
           extra + "  instances:\n" + instances;
}

std::string instance(const std::string& name, int vrid, int priority,
                     const std::string& advert_int = "100ms", const std::string& extra = "") {
    return "    - name: " + name +
           "\n      interface: ext\n      virtual_router_id: " + std::to_string(vrid) +
           "\n      priority: " + std::to_string(priority) + "\n      advert_int: " + advert_int +
           "\n      virtual_addresses: [198.51.100." + std::to_string(100 + vrid) + "]\n" + extra;
}

// An advertisement from the peer 198.51.100.3, every 100 ms, for the VIP instance() gives.
std::vector<std::uint8_t> peer_advert(std::uint8_t vrid, std::uint8_t priority) {
    Message m;
    m.vrid = vrid;
    m.priority = priority;
    m.interval_centiseconds = 10;
    m.addresses = {0xc6336464u + vrid};
    return advert_frame(m, virtual_mac(vrid), multicast_mac, 0xc6336403, multicast_group);
}

struct Fixture {
    explicit Fixture(const std::string& yaml) : config(lb::test::config_from(yaml)) {
        core = std::make_unique<DriverCore>(config, std::vector<Mac>{Mac{2, 0, 0, 0, 0, 1}},
                                            std::vector<std::uint8_t>{}, io());
    }

    DriverIo io() {
        DriverIo d;
        d.send = [this](std::uint8_t, std::vector<std::uint8_t> f) {
            if (f[12] == 0x08 && f[13] == 0x06) {
                did.push_back("arp");
                return;
            }
            const auto p = received_packet(f.data(), f.size());
            REQUIRE(p);
            did.push_back("advert " + std::to_string(p->payload[1]) + " " +
                          std::to_string(p->payload[2]));
        };
        d.resolve = [](std::uint32_t, std::uint8_t) { return std::nullopt; };
        d.link_up = [this](std::size_t i) { return link[i]; };
        d.set_ownership = [this](std::uint8_t slot, bool master) {
            did.push_back("own " + std::to_string(slot) + (master ? " master" : " not"));
        };
        d.notify = [this](const lb::control::config::VrrpInstance& v, State to,
                          std::uint8_t priority, const std::string&) {
            did.push_back("notify " + v.name + " " + to_string(to) + " " +
                          std::to_string(priority));
        };
        d.hooks_idle = [this] { return hooks_idle; };
        d.down = [this] { return down; };
        d.script_up = [](const std::string&) { return true; };
        d.publish = [this](const Router&) { did.push_back("publish"); };
        d.wake_at = [this](Clock::time_point t) {
            wake = t;
            wakes.push_back(t);
        };
        d.log = [this](const std::string& line) { did.push_back("log " + line); };
        return d;
    }

    // What was done since the last call.
    std::vector<std::string> take() { return std::exchange(did, {}); }
    // Entries starting with `prefix`, in order.
    std::vector<std::string> only(const std::string& prefix) const {
        std::vector<std::string> out;
        for (const auto& d : did)
            if (d.rfind(prefix, 0) == 0)
                out.push_back(d);
        return out;
    }
    // Position of the first entry equal to `entry` (did.size() when absent).
    std::size_t at(const std::string& entry) const {
        return static_cast<std::size_t>(std::find(did.begin(), did.end(), entry) - did.begin());
    }
    bool has(const std::string& entry) const { return at(entry) < did.size(); }
    // Moves the clock by `d`, waking the core whenever the wake-up it asked for comes.
    void run(std::chrono::microseconds d) {
        const auto end = now + d;
        while (wake && *wake <= end) {
            now = *wake;
            wake.reset();
            core->wake(now);
        }
        now = end;
    }
    void receive(const std::vector<std::uint8_t>& frame) {
        core->receive(0, frame.data(), frame.size(), now);
    }
    State state(std::size_t i = 0) const { return core->router().status()[i].state; }

    lb::control::config::Config config;
    Clock::time_point now{std::chrono::hours(100)};
    std::vector<std::string> did;
    std::vector<bool> link{true};
    bool hooks_idle = true;
    lb::control::health::DownSet down;
    std::optional<Clock::time_point> wake; // the wake-up asked last, until it comes
    std::vector<Clock::time_point> wakes;  // every wake-up asked
    std::unique_ptr<DriverCore> core;
};

const std::string link_down_line = "log vrrp: interface ext: link down: backups there do not "
                                   "count the master's silence until it is up";
const std::string link_up_line =
    "log vrrp: interface ext: link up: backups count the master's silence from now";

} // namespace

TEST_CASE("vrrp driver: a BACKUP hearing no master takes over, the VIPs owned first", "[vrrp]") {
    Fixture f(node(instance("v", 1, 100)));
    const auto start = f.now;
    f.core->start(f.now);
    CHECK(f.state() == State::backup);
    CHECK(f.only("own") == std::vector<std::string>{"own 0 not"});
    CHECK(f.only("notify") == std::vector<std::string>{"notify v BACKUP 100"});
    CHECK(f.has("publish"));
    CHECK(f.only("arp").empty());
    CHECK(f.wake == start + 5ms); // a twentieth of 100 ms
    f.take();

    // The master-down interval: 3 × 100 ms + (256 − 100) × 100 ms / 256, in whole µs.
    f.run(360ms);
    CHECK(f.state() == State::backup);
    CHECK(f.take().empty());
    f.run(2ms);
    REQUIRE(f.state() == State::master);
    CHECK(f.core->router().status()[0].last_transition_monotonic == start + 360937us);
    const auto owned = f.at("own 0 master");
    const auto told = f.at("notify v MASTER 100");
    REQUIRE(owned < f.did.size());
    REQUIRE(told < f.did.size());
    // Traffic the gratuitous ARP draws, and whatever a hook does, finds the VIPs forwarded.
    CHECK(owned < told);
    CHECK(f.did[owned + 1].rfind("log vrrp v: BACKUP -> MASTER (priority 100)", 0) == 0);
    const auto arp = f.at("arp");
    CHECK(arp < f.did.size());
    CHECK(owned < arp);
    CHECK(f.has("advert 1 100"));
    CHECK(f.only("own").size() == 1);
}

TEST_CASE("vrrp driver: a higher-priority master's advertisements keep or send it to BACKUP",
          "[vrrp]") {
    Fixture f(node(instance("v", 1, 100)));
    f.core->start(f.now);
    const auto peer_for = [&](std::chrono::milliseconds d) {
        for (auto end = f.now + d; f.now < end;) {
            f.receive(peer_advert(1, 200));
            f.run(100ms);
        }
    };

    SECTION("at start: it stays BACKUP and sends nothing") {
        f.take();
        peer_for(2s);
        CHECK(f.state() == State::backup);
        CHECK(f.only("own").empty());
        CHECK(f.only("advert").empty());
        CHECK(f.core->router().status()[0].master == 0xc6336403);
    }
    SECTION("as MASTER: it steps down, ownership released before the notification") {
        f.run(400ms);
        REQUIRE(f.state() == State::master);
        f.take();
        f.receive(peer_advert(1, 200));
        CHECK(f.state() == State::backup);
        const auto released = f.at("own 0 not");
        REQUIRE(released < f.did.size());
        CHECK(released < f.at("notify v BACKUP 100"));
        CHECK(f.has("notify v BACKUP 100"));
        f.take();
        peer_for(1s);
        CHECK(f.state() == State::backup);
        CHECK(f.only("advert").empty());
        CHECK(f.only("own").empty());
    }
}

TEST_CASE("vrrp driver: a link down stops counting the master's silence, logged once each way",
          "[vrrp]") {
    Fixture f(node(instance("v", 1, 100)));
    f.link[0] = false;
    f.core->start(f.now);
    CHECK(f.only("log vrrp: interface") == std::vector<std::string>{link_down_line});
    CHECK_FALSE(f.core->router().status()[0].listening);
    f.take();
    for (int i = 0; i < 20; ++i) { // the module's tick, for links
        f.run(100ms);
        f.core->track(f.now);
    }
    CHECK(f.state() == State::backup); // 2 s of silence it could not hear
    CHECK(f.only("log vrrp: interface").empty());
    CHECK(f.only("own").empty());

    f.link[0] = true;
    f.core->track(f.now);
    f.core->track(f.now);
    CHECK(f.only("log vrrp: interface") == std::vector<std::string>{link_up_line});
    CHECK(f.core->router().status()[0].listening);
    // The silence counts from the link's coming up.
    f.run(360ms);
    CHECK(f.state() == State::backup);
    f.run(2ms);
    CHECK(f.state() == State::master);
}

TEST_CASE("vrrp driver: the preemption hold logs each change once", "[vrrp]") {
    Fixture f(node(instance("v", 1, 100)));
    f.core->start(f.now);
    f.take();
    f.core->hold_preemption("session table not in sync");
    CHECK(f.take() == std::vector<std::string>{
                          "log vrrp: not preempting: session table not in sync", "publish"});
    CHECK(f.core->router().preemption_hold() == "session table not in sync");
    f.core->hold_preemption("session table not in sync"); // every tick, the same reason
    CHECK(f.take().empty());
    f.core->hold_preemption("another reason");
    CHECK(f.take() ==
          std::vector<std::string>{"log vrrp: not preempting: another reason", "publish"});
    f.core->hold_preemption(std::nullopt);
    CHECK(f.take() == std::vector<std::string>{"log vrrp: preemption allowed again", "publish"});
    CHECK_FALSE(f.core->router().preemption_hold());
    f.core->hold_preemption(std::nullopt);
    CHECK(f.take().empty());
}

TEST_CASE("vrrp driver: the poll period is a twentieth of the shortest interval, 1 to 10 ms",
          "[vrrp]") {
    const auto period = [](const std::string& instances) {
        Fixture f(node(instances));
        return f.core->poll_period();
    };
    CHECK(period(instance("v", 1, 100, "100ms")) == 5ms);
    CHECK(period(instance("v", 1, 100, "160ms")) == 8ms);
    CHECK(period(instance("v", 1, 100, "10ms")) == 1ms); // not 0.5 ms
    CHECK(period(instance("v", 1, 100, "1s")) == 10ms);  // not 50 ms
    CHECK(period(instance("v", 1, 100, "20s")) == 10ms); // not 1 s
    CHECK(period(instance("a", 1, 100, "1s") + instance("b", 2, 100, "100ms")) == 5ms);
}

TEST_CASE("vrrp driver: the next wake-up is the poll period, or the router's deadline if sooner",
          "[vrrp]") {
    Fixture f(node(instance("v", 1, 100)));
    const auto start = f.now;
    f.core->start(f.now);
    const auto deadline = f.core->router().next_deadline();
    REQUIRE(deadline);
    CHECK(*deadline == start + 360937us); // master down
    CHECK(f.core->next_wake(f.now) == f.now + 5ms);
    CHECK(f.wakes == std::vector<Clock::time_point>{start + 5ms});

    f.run(358ms);
    CHECK(f.core->next_wake(f.now) == *deadline); // 3 ms away, sooner than 5
    CHECK(f.wake == start + 360ms);               // asked at 355 ms, before the deadline was near
    f.run(2ms);
    // At 360 ms: the deadline (0.94 ms away), not the poll at 365 ms.
    CHECK(f.wake == *deadline);
    CHECK(std::count(f.wakes.begin(), f.wakes.end(), start + 365ms) == 0);
    CHECK(f.state() == State::backup);
    f.run(1ms);
    CHECK(f.state() == State::master);
    CHECK(f.core->router().status()[0].last_transition_monotonic == *deadline);
}

TEST_CASE("vrrp driver: shutdown resigns, waits 50 ms for worker 0, then for the hooks", "[vrrp]") {
    Fixture f(node(instance("v", 1, 100)));
    f.core->start(f.now);
    f.run(400ms);
    REQUIRE(f.state() == State::master);
    f.take();
    bool done = false;
    const auto begin = f.now;
    f.hooks_idle = false; // the STOP hook, queued
    f.core->shutdown(f.now, [&] { done = true; });
    CHECK(f.core->stopping());
    CHECK(f.has("advert 1 0")); // the backups take over at once
    const auto released = f.at("own 0 not");
    REQUIRE(released < f.did.size());
    CHECK(released < f.at("publish"));
    CHECK(f.wake == begin + 50ms);
    f.take();
    // A wake-up asked before shutdown, arriving late: not a step.
    f.core->wake(begin + 10ms);
    CHECK_FALSE(done);
    CHECK(f.wake == begin + 50ms);
    // Reloads no longer apply.
    f.core->reconfigure({}, f.now);
    CHECK(f.take().empty());
    CHECK(f.wake == begin + 50ms);

    SECTION("the hooks finish: done at the next look") {
        f.run(49ms);
        CHECK_FALSE(done);
        f.run(1ms);
        CHECK_FALSE(done);
        CHECK(f.wake == begin + 70ms); // looked every 20 ms
        f.run(200ms);
        CHECK_FALSE(done);
        f.hooks_idle = true;
        f.run(20ms);
        CHECK(done);
        CHECK(f.now == begin + 270ms);
        CHECK_FALSE(f.wake); // nothing more asked
        // No advertisement after the resignation, nor anything else.
        CHECK(f.take().empty());
    }
    SECTION("the hooks still run: done after shutdown_hook_wait, said once") {
        f.run(9990ms);
        CHECK_FALSE(done);
        CHECK(f.take().empty());
        f.run(20ms); // the look at 10.01 s is past the 10 s
        CHECK(done);
        CHECK(f.take() == std::vector<std::string>{
                              "log vrrp: notify hooks still running after 10 s; not waiting"});
        CHECK_FALSE(f.wake);
    }
    SECTION("no hook: done once worker 0 had its 50 ms") {
        f.hooks_idle = true;
        f.run(49ms);
        CHECK_FALSE(done);
        f.run(1ms);
        CHECK(done);
        CHECK(f.take().empty());
    }
}

TEST_CASE("vrrp driver: a reload with a shorter interval wakes up sooner; tracking at once",
          "[vrrp]") {
    Fixture f(node(instance("v", 1, 100, "1s")));
    f.core->start(f.now);
    CHECK(f.wake == f.now + 10ms);
    f.run(2ms);
    f.take();
    // Both real servers of web are down: with the new tracking, priority 100 − 30.
    f.down.insert({"web", 0xc6336415, 0});
    f.down.insert({"web", 0xc6336416, 0});
    f.config = lb::test::config_from(node(
        instance("v", 1, 100, "100ms", "      track:\n        - {service: web, weight: -30}\n")));
    f.core->reconfigure({}, f.now);
    CHECK(f.core->poll_period() == 5ms);
    CHECK(f.wake == f.now + 5ms); // 7 ms from start, not the 10 ms asked before the reload
    CHECK(f.core->router().status()[0].priority == 70);
    CHECK(f.core->router().status()[0].tracking == "service 'web' below quorum (weight -30)");
    CHECK(f.has("publish"));
}

TEST_CASE("vrrp driver: a sync group holding a member in BACKUP is logged when it starts and ends",
          "[vrrp]") {
    Fixture f(node(instance("out", 1, 100) + instance("in", 2, 100),
                   "  sync_groups:\n    - {name: edge, instances: [out, in]}\n"));
    f.core->start(f.now);
    f.take();
    // The peer's "in" is heard, its "out" is not (a partial partition).
    for (int i = 0; i < 20; ++i) {
        f.receive(peer_advert(2, 200));
        f.run(100ms);
    }
    CHECK(f.state(0) == State::backup);
    CHECK(f.state(1) == State::backup);
    const auto held = f.only("log vrrp out:");
    REQUIRE(held.size() == 1);
    CHECK(held[0].find("(partial partition?)") != std::string::npos);
    CHECK(held[0].rfind("log vrrp out: sync group 'edge' holds it in BACKUP", 0) == 0);
    CHECK(held[0].find("'in' hears a master") != std::string::npos);
    CHECK(f.only("log vrrp in:").empty());
    f.take();
    // The peer is gone altogether: the group goes MASTER, and "out" is no longer held.
    f.run(1s);
    CHECK(f.state(0) == State::master);
    CHECK(f.state(1) == State::master);
    CHECK(f.only("log vrrp out: no longer") ==
          std::vector<std::string>{"log vrrp out: no longer held by its sync group"});
}
