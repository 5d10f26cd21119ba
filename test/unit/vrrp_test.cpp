#include <catch2/catch.hpp>

#include "modules/vrrp/instance.hpp"
#include "modules/vrrp/packet.hpp"

using namespace lb::control::vrrp;
using namespace std::chrono_literals;

namespace {

InstanceConfig config(std::uint8_t priority, bool preempt = true) {
    InstanceConfig c;
    c.vrid = 51;
    c.priority = priority;
    c.advert_interval = 1s;
    c.preempt = preempt;
    c.primary_address = 0xc6336402; // 198.51.100.2
    return c;
}

Advert from(std::uint8_t priority, std::uint32_t source = 0xc6336403) {
    return Advert{priority, 1s, source};
}

} // namespace

TEST_CASE("VRRP timers follow RFC 5798") {
    Instance i(config(100));
    // Skew_Time = (256 - 100) * 1 s / 256; Master_Down_Interval = 3 s + skew.
    CHECK(i.skew_time() == Duration(609375));
    CHECK(i.master_down_interval() == Duration(3609375));
}

TEST_CASE("a backup becomes master when the master falls silent") {
    const Clock::time_point t0{};
    Instance i(config(100));
    auto a = i.start(t0);
    CHECK(i.state() == State::backup);
    CHECK(a.became == State::backup);
    CHECK_FALSE(a.send_advert);
    CHECK(i.tick(t0 + 3s).became == std::nullopt);
    // Adverts keep it backup.
    i.receive(from(150), t0 + 3s);
    CHECK(i.tick(t0 + 6s).became == std::nullopt);
    a = i.tick(t0 + 3s + i.master_down_interval());
    CHECK(a.became == State::master);
    CHECK(a.send_advert == 100);
    CHECK(a.send_gratuitous_arp);
    // As master it advertises every interval.
    const auto t = t0 + 3s + i.master_down_interval();
    CHECK(i.tick(t + 999ms).send_advert == std::nullopt);
    CHECK(i.tick(t + 1s).send_advert == 100);
    CHECK(*i.next_deadline() == t + 2s);
}

TEST_CASE("the address owner is master at once") {
    Instance i(config(255));
    auto a = i.start(Clock::time_point{});
    CHECK(i.state() == State::master);
    CHECK(a.send_advert == 255);
    CHECK(a.send_gratuitous_arp);
}

TEST_CASE("a master yields to a higher priority, and on a tie to the higher address") {
    const Clock::time_point t0{};
    Instance i(config(255));
    i.start(t0);
    CHECK(i.receive(from(200), t0).became == std::nullopt); // lower: ignored
    Instance j(config(100));
    j.start(t0);
    j.tick(t0 + 4s); // master
    REQUIRE(j.state() == State::master);
    CHECK(j.receive(from(100, 0xc6336401), t0 + 4s).became == std::nullopt); // lower address
    auto a = j.receive(from(100, 0xc6336403), t0 + 4s);                      // higher address
    CHECK(a.became == State::backup);
    CHECK(j.state() == State::backup);
    Instance k(config(100));
    k.start(t0);
    k.tick(t0 + 4s);
    CHECK(k.receive(from(101), t0 + 4s).became == State::backup);
}

TEST_CASE("a master hearing a lower-priority master (a healed split brain) answers at once and "
          "re-announces its addresses") {
    const Clock::time_point t0{};
    Instance i(config(200));
    i.start(t0);
    i.tick(t0 + 4s);
    REQUIRE(i.state() == State::master);
    const auto a = i.receive(from(100), t0 + 4500ms);
    CHECK(a.became == std::nullopt);
    CHECK(a.send_advert == std::optional<std::uint8_t>(200));
    CHECK(a.send_gratuitous_arp);
    CHECK(i.state() == State::master);
    // ...and the next advertisement is a whole interval after that answer.
    CHECK(i.next_deadline() == t0 + 5500ms);
}

TEST_CASE("sync groups: follow() moves an instance to the state its group entered") {
    const Clock::time_point t0{};
    Instance i(config(100));
    CHECK(i.follow(State::master, t0, "group").became == std::nullopt); // not started: stays
    i.start(t0);
    auto a = i.follow(State::master, t0, "sync group 'g': 'x' became MASTER");
    CHECK(a.became == State::master);
    CHECK(a.send_advert);
    CHECK(a.send_gratuitous_arp);
    CHECK(i.follow(State::master, t0, "again").became == std::nullopt);
    a = i.follow(State::fault, t0, "sync group");
    CHECK(a.became == State::fault);
    CHECK(a.send_advert == std::optional<std::uint8_t>(0)); // it was master: resign
    CHECK(i.follow(State::backup, t0, "sync group").became == State::backup);
}

TEST_CASE("preemption: a higher-priority backup takes over from a lower master; nopreempt "
          "does not") {
    const Clock::time_point t0{};
    Instance preempt(config(200, true));
    preempt.start(t0);
    // The lower master's adverts do not reset the timer: it runs out and preempts.
    for (int s = 1; s <= 3; ++s)
        preempt.receive(from(100), t0 + std::chrono::seconds(s));
    CHECK(preempt.tick(t0 + preempt.master_down_interval()).became == State::master);

    Instance no_preempt(config(200, false));
    no_preempt.start(t0);
    for (int s = 1; s <= 10; ++s) {
        no_preempt.receive(from(100), t0 + std::chrono::seconds(s));
        CHECK(no_preempt.tick(t0 + std::chrono::seconds(s)).became == std::nullopt);
    }
    CHECK(no_preempt.state() == State::backup);
}

TEST_CASE("preempt_delay holds preemption back after start-up") {
    const Clock::time_point t0{};
    auto c = config(200, true);
    c.preempt_delay = 10s;
    Instance i(c);
    i.start(t0);
    for (int s = 1; s <= 9; ++s)
        i.receive(from(100), t0 + std::chrono::seconds(s));
    CHECK(i.tick(t0 + 9s + 3s).became == std::nullopt); // reset by the advert at 9 s
    CHECK(i.tick(t0 + 9s + i.master_down_interval()).became == State::master);
}

TEST_CASE("shutdown sends priority 0, and a backup then takes over after its skew time") {
    const Clock::time_point t0{};
    Instance master(config(255));
    master.start(t0);
    auto a = master.shutdown(t0 + 1s);
    CHECK(a.send_advert == 0);
    CHECK(master.state() == State::initialize);
    Instance backup(config(100));
    backup.start(t0);
    backup.receive(from(0), t0 + 1s);
    CHECK(backup.tick(t0 + 1s + backup.skew_time()).became == State::master);
}

TEST_CASE("fault: a master gives up with priority 0 and comes back as backup") {
    const Clock::time_point t0{};
    Instance i(config(100));
    i.start(t0);
    i.tick(t0 + 4s);
    REQUIRE(i.state() == State::master);
    auto a = i.set_fault(true, t0 + 5s, "service web below quorum");
    CHECK(a.became == State::fault);
    CHECK(a.send_advert == 0);
    CHECK(i.tick(t0 + 100s).became == std::nullopt); // no timers in FAULT
    CHECK(i.set_fault(false, t0 + 100s, "web recovered").became == State::backup);
}

TEST_CASE("tracking changes the effective priority; the owner's stays 255") {
    const Clock::time_point t0{};
    Instance i(config(100));
    i.start(t0);
    i.tick(t0 + 4s);
    CHECK(i.set_priority(50, t0 + 5s).send_advert == 50);
    CHECK(i.priority() == 50);
    Instance owner(config(255));
    owner.start(t0);
    owner.set_priority(10, t0);
    CHECK(owner.priority() == 255);
}

namespace {

// Feeds `i` an advertisement of `priority` every second from `first` to `last` (whole seconds
// after t0), ticking at each; the first transition (or none).
std::optional<State> adverts(Instance& i, std::uint8_t priority, int first, int last) {
    const Clock::time_point t0{};
    for (int s = first; s <= last; ++s) {
        const auto t = t0 + std::chrono::seconds(s);
        if (const auto a = i.tick(t); a.became)
            return a.became;
        if (const auto a = i.receive(from(priority), t); a.became)
            return a.became;
    }
    return std::nullopt;
}

} // namespace

TEST_CASE("preemption hold: a held backup lets a lower master run, and takes over only when it "
          "falls silent") {
    const Clock::time_point t0{};
    Instance i(config(200));
    i.hold_preemption(true);
    i.start(t0);
    CHECK(adverts(i, 100, 1, 30) == std::nullopt);
    CHECK(i.state() == State::backup);
    CHECK(i.preemption_held_back());
    i.hold_preemption(true); // idempotent
    CHECK(i.preemption_held_back());
    // Silent since the advertisement at 30 s.
    CHECK(i.tick(t0 + 30s + i.master_down_interval() - 1ms).became == std::nullopt);
    CHECK(i.tick(t0 + 30s + i.master_down_interval()).became == State::master);
    CHECK_FALSE(i.preemption_held_back());
    // A MASTER is unaffected: a lower master's advertisement is answered, a higher one wins.
    CHECK(i.receive(from(100), t0 + 40s).send_advert == 200);
    CHECK(i.state() == State::master);
    CHECK(i.receive(from(250), t0 + 41s).became == State::backup);
    CHECK_FALSE(i.preemption_held_back());
}

TEST_CASE("preemption hold: released, the backup preempts at the lower master's next "
          "advertisement") {
    const Clock::time_point t0{};
    Instance i(config(200));
    i.hold_preemption(true);
    i.start(t0);
    CHECK(adverts(i, 100, 1, 10) == std::nullopt);
    i.hold_preemption(false);
    CHECK_FALSE(i.preemption_held_back());
    CHECK(i.tick(t0 + 10500ms).became == std::nullopt);
    const auto a = i.receive(from(100), t0 + 11s);
    CHECK(a.became == State::master);
    CHECK(a.reason == "preemption no longer held: master 198.51.100.3 advertises priority 100, "
                      "below ours (200)");
    // Not held back (a higher or equal master): released, the backup keeps following it.
    Instance j(config(100));
    j.hold_preemption(true);
    j.start(t0);
    CHECK(adverts(j, 150, 1, 5) == std::nullopt);
    CHECK_FALSE(j.preemption_held_back());
    j.hold_preemption(false);
    CHECK(adverts(j, 150, 6, 20) == std::nullopt);
    CHECK(j.state() == State::backup);
}

TEST_CASE("preemption hold: set while preempting, the timer restarts from the lower master's "
          "last advertisement") {
    const Clock::time_point t0{};
    Instance i(config(200));
    i.start(t0);
    i.receive(from(100), t0 + 1s);
    i.receive(from(100), t0 + 2s); // discarded: the timer (from t0) runs out at 3.2 s
    i.hold_preemption(true);
    CHECK(i.preemption_held_back());
    CHECK(i.tick(t0 + 3500ms).became == std::nullopt);
    CHECK(*i.next_deadline() == t0 + 2s + i.master_down_interval());
    CHECK(adverts(i, 100, 3, 20) == std::nullopt);
    CHECK(i.state() == State::backup);
}

TEST_CASE("preemption hold: preempt_delay's end does not preempt while held") {
    const Clock::time_point t0{};
    auto c = config(200);
    c.preempt_delay = 5s;
    Instance i(c);
    i.hold_preemption(true);
    i.start(t0);
    CHECK(adverts(i, 100, 1, 4) == std::nullopt);
    CHECK_FALSE(i.preemption_held_back()); // the delay, not the hold, keeps it back so far
    CHECK(adverts(i, 100, 5, 20) == std::nullopt);
    CHECK(i.preemption_held_back());
    i.hold_preemption(false);
    CHECK(adverts(i, 100, 21, 21) == State::master);
}

TEST_CASE("preemption hold: the address owner starts, and leaves FAULT, in BACKUP; released, it "
          "preempts at the next advertisement") {
    const Clock::time_point t0{};
    Instance owner(config(255));
    owner.hold_preemption(true);
    CHECK(owner.start(t0).reason == "start-up (address owner, preemption held)");
    CHECK(owner.state() == State::backup);
    CHECK(adverts(owner, 100, 1, 10) == std::nullopt);
    CHECK(owner.preemption_held_back());
    CHECK(owner.set_fault(true, t0 + 11s, "link down").became == State::fault);
    CHECK(owner.set_fault(false, t0 + 12s, "link up").became == State::backup);
    CHECK(adverts(owner, 100, 13, 20) == std::nullopt);
    owner.hold_preemption(false);
    CHECK(adverts(owner, 100, 21, 21) == State::master);
    // Alone, held: MASTER after the master-down interval (no master to wait for).
    Instance alone(config(255));
    alone.hold_preemption(true);
    alone.start(t0);
    CHECK(alone.tick(t0 + alone.master_down_interval()).became == State::master);
}

TEST_CASE("VRRP advertisements: encoded and decoded, v3 and v2 with PASS") {
    const std::uint32_t src = 0xc6336402;
    Message m;
    m.vrid = 51;
    m.priority = 150;
    m.interval_centiseconds = 10; // 100 ms
    m.addresses = {0xc6336464, 0xc6336465};
    auto bytes = encode(m, src, multicast_group);
    CHECK(bytes.size() == 16);
    auto r = decode(bytes.data(), bytes.size(), src, multicast_group, 255, {3, 51, "", 100});
    REQUIRE(std::holds_alternative<Message>(r));
    const auto& d = std::get<Message>(r);
    CHECK(d.priority == 150);
    CHECK(d.interval_centiseconds == 10);
    CHECK(d.addresses == m.addresses);

    Message v2 = m;
    v2.version = 2;
    v2.interval_centiseconds = 100;
    v2.password = "secret";
    bytes = encode(v2, src, multicast_group);
    CHECK(bytes.size() == 24);
    r = decode(bytes.data(), bytes.size(), src, multicast_group, 255, {2, 51, "secret", 100});
    REQUIRE(std::holds_alternative<Message>(r));
    CHECK(std::get<Message>(r).password == "secret");
}

TEST_CASE("bad advertisements are discarded with their reason") {
    const std::uint32_t src = 0xc6336402;
    Message m;
    m.vrid = 51;
    m.addresses = {0xc6336464};
    const auto good = encode(m, src, multicast_group);
    auto reason = [&](std::vector<std::uint8_t> b, std::uint8_t ttl = 255,
                      Expectation e = {3, 51, "", 100}, std::uint32_t from = 0xc6336402) {
        auto r = decode(b.data(), b.size(), from, multicast_group, ttl, e);
        REQUIRE(std::holds_alternative<Discard>(r));
        return std::get<Discard>(r);
    };
    CHECK(reason(good, 254) == Discard::bad_ttl);
    CHECK(reason({good.begin(), good.begin() + 7}) == Discard::truncated);
    CHECK(reason({good.begin(), good.begin() + 11}) == Discard::truncated);
    auto flipped = good;
    flipped[2] ^= 1;
    CHECK(reason(flipped) == Discard::bad_checksum);
    CHECK(reason(good, 255, {3, 51, "", 100}, 0xc6336409) == Discard::bad_checksum); // v3 pseudo
    CHECK(reason(good, 255, {2, 51, "", 100}) == Discard::bad_version);
    CHECK(reason(good, 255, {3, 52, "", 100}) == Discard::wrong_vrid);
    Message none = m;
    none.addresses.clear();
    CHECK(reason(encode(none, src, multicast_group)) == Discard::bad_address_count);
    auto bad_type = good;
    bad_type[0] = 0x32;
    CHECK(reason(bad_type) == Discard::bad_type);
    Message v2 = m;
    v2.version = 2;
    v2.password = "secret";
    const auto pass = encode(v2, src, multicast_group);
    CHECK(reason(pass, 255, {2, 51, "wrong", 100}) == Discard::bad_authentication);
    CHECK(reason(pass, 255, {2, 51, "", 100}) == Discard::bad_authentication);
    CHECK(reason(pass, 255, {2, 51, "secret", 200}) == Discard::wrong_interval);
}

TEST_CASE("VRRPv2: authentication data without authentication type 1 is no password") {
    // Found by fuzzing (test/fuzz/corpus/vrrp_codec/regression-v2-auth-data-without-auth-type):
    // stray bytes after the addresses of a type-0 advert were read as a password, so that
    // re-encoding the message sent type 1 and a password nobody configured.
    const std::uint32_t src = 0xc6336402;
    Message m;
    m.version = 2;
    m.vrid = 51;
    m.interval_centiseconds = 100;
    m.addresses = {0xc6336464};
    auto bytes = encode(m, src, multicast_group);
    REQUIRE(bytes.size() == 20);
    REQUIRE(bytes[4] == 0); // authentication type none
    bytes[12] = 'x';        // authentication data
    bytes[6] = bytes[7] = 0;
    std::uint32_t sum = 0; // VRRPv2: the message alone, no pseudo-header
    for (std::size_t i = 0; i < bytes.size(); i += 2)
        sum += std::uint32_t{bytes[i]} << 8 | bytes[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    bytes[6] = static_cast<std::uint8_t>(~sum >> 8);
    bytes[7] = static_cast<std::uint8_t>(~sum);
    const auto r = decode(bytes.data(), bytes.size(), src, multicast_group, 255, {2, 51, "", 100});
    REQUIRE(std::holds_alternative<Message>(r));
    CHECK(std::get<Message>(r).password.empty());
    CHECK(encode(std::get<Message>(r), src, multicast_group)[4] == 0);
}

TEST_CASE("a backup that preempts a lower master it hears does not call it a master down") {
    // The log must not say "no advertisement" while the master's advertisements arrive: an
    // operator reads it as a master gone silent (or adverts lost) when it was a preemption.
    const Clock::time_point t0{};
    Instance i(config(150));
    i.start(t0);
    Actions a;
    for (auto t = t0; !a.became; t += 1s) {
        i.receive(from(100), t);
        a = i.tick(t);
    }
    CHECK(a.became == State::master);
    CHECK(a.reason ==
          "preempted master 198.51.100.3: it advertises priority 100, below ours (150)");
}

TEST_CASE("a backup counts the master's silence only while it can hear it") {
    const Clock::time_point t0{};
    Instance i(config(100));
    // The link is not up yet when the instance starts (a NIC still negotiating).
    i.set_listening(false, t0);
    i.start(t0);
    CHECK(i.next_deadline() == std::nullopt);
    CHECK(i.tick(t0 + 10s).became == std::nullopt);
    CHECK(i.state() == State::backup);
    // Up at 10 s: a whole master-down interval from then, not from start-up.
    i.set_listening(true, t0 + 10s);
    CHECK(*i.next_deadline() == t0 + 10s + i.master_down_interval());
    CHECK(i.tick(t0 + 10s + i.master_down_interval() - 1us).became == std::nullopt);
    // Heard in time, the master keeps it backup.
    i.receive(from(150), t0 + 11s);
    CHECK(i.tick(t0 + 10s + i.master_down_interval()).became == std::nullopt);
    // A link that goes down stops the count; back up, silence counts from then.
    i.set_listening(false, t0 + 12s);
    CHECK(i.tick(t0 + 20s).became == std::nullopt);
    i.set_listening(true, t0 + 20s);
    const auto a = i.tick(t0 + 20s + i.master_down_interval());
    CHECK(a.became == State::master);
    CHECK(a.reason.find("master down") != std::string::npos);
}

TEST_CASE("listening again never brings a running master-down timer forward") {
    const Clock::time_point t0{};
    Instance i(config(100));
    i.start(t0);
    i.receive(from(150), t0 + 5s);
    i.set_listening(false, t0 + 5s);
    i.set_listening(true, t0 + 5s);
    CHECK(*i.next_deadline() == t0 + 5s + i.master_down_interval());
}
