// The replication driver's decisions on a fake clock and fake I/O (issue 22): the core
// (modules/replication/node_replication) of nodes wired back to back by a fake wire that carries
// each datagram from one address to another, over fake tables (a map of connections). What the
// driver would do besides sending is recorded as a transcript: "log LINE", "hold REASON",
// "release" (VRRP may preempt), "reset on|off" (the workers' unknown flows), "defer N",
// "describe N" and "settle N" (the table asked for connection N's entry).
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "modules/replication/node_replication.hpp"
#include "modules/replication/testing/sync_fixtures.hpp"

using namespace std::chrono_literals;
using lb::control::replication::BridgeCounters;
using lb::control::replication::NodeReplication;
using lb::control::replication::ReplicationIo;
using lb::control::report::Moment;
using namespace lb::control::sync;

namespace {

using lb::test::FakeTable;
using Transcript = std::vector<std::string>;

lb::test::ClientKey key_of(const Entry& e) {
    return lb::test::flow_key(std::get<ConnectionEntry>(e).flow);
}

const std::vector<std::uint8_t> old_key(32, 7);
const std::vector<std::uint8_t> new_key(32, 9);
constexpr std::uint32_t address_a = 0xc6336402; // 198.51.100.2
constexpr std::uint32_t address_b = 0xc6336403; // 198.51.100.3
constexpr std::uint32_t address_c = 0xc6336404; // 198.51.100.4
constexpr std::uint32_t stranger = 0xc6336409;  // 198.51.100.9, in no peer list

KeyRing ring(const std::vector<std::uint8_t>& current, const std::vector<std::uint8_t>& previous) {
    KeyRing keys{MessageKey(current), std::nullopt};
    if (!previous.empty())
        keys.previous.emplace(previous);
    return keys;
}

// Time moves only when a test says so; the dataplane's clock (32 bits, wrapping) with it, from
// wherever a test sets it.
struct FakeClock {
    std::uint64_t ms = 1'000'000;
    std::uint32_t dataplane_offset = 0;
    std::uint32_t dataplane() const { return static_cast<std::uint32_t>(ms) + dataplane_offset; }
    void set_dataplane(std::uint32_t now) {
        dataplane_offset = now - static_cast<std::uint32_t>(ms);
    }
    Moment moment() const {
        return {std::chrono::system_clock::time_point{std::chrono::milliseconds(ms)},
                std::chrono::steady_clock::time_point{std::chrono::milliseconds(ms)}};
    }
};

struct NodeOptions {
    std::vector<std::uint32_t> peers;
    std::uint64_t epoch = 100;
    Digest digest{};
    std::uint32_t sync_after_ms = 0;
    std::size_t max_deferred = 4'000'000;
};

// One node: its table (what it forwards), what its peers' entries installed, its core and what
// the core had done.
struct Node {
    const FakeClock& clock;
    std::uint32_t address;
    std::vector<std::uint32_t> peer_addresses;
    FakeTable table;
    FakeTable replica;
    std::set<std::uint32_t> closing; // connections gone short-lived: settle() sends nothing
    BridgeCounters counters;
    Transcript did;
    std::vector<std::pair<std::size_t, std::vector<std::uint8_t>>> outbox;
    bool kernel_refuses = false;
    std::uint64_t refused_sends = 0;
    bool reset = false;
    std::unique_ptr<NodeReplication> core;

    Node(const FakeClock& c, std::uint32_t self, const NodeOptions& o) : clock(c), address(self) {
        peer_addresses = o.peers;
        NodeReplication::Setup setup{.link = {},
                                     .keys = ring(old_key, {}),
                                     .epoch = o.epoch,
                                     .digest = o.digest,
                                     .local = self,
                                     .peers = o.peers,
                                     .sync_after_ms = o.sync_after_ms,
                                     .max_deferred = o.max_deferred};
        core = std::make_unique<NodeReplication>(std::move(setup), io(), clock.ms);
    }

    ReplicationIo io() {
        ReplicationIo io;
        io.current = [this](const Entry& e) { return lb::test::current_in(table, e); };
        io.dump = [this](std::uint64_t& cursor, std::vector<Entry>& out) {
            return lb::test::dump_from(table, cursor, out);
        };
        io.apply = [this](const Entry& e) {
            ++counters.applied;
            replica[key_of(e)] = std::get<ConnectionEntry>(e);
        };
        io.counters = [this] { return counters; };
        io.describe = [this](std::uint32_t n, std::uint32_t, std::vector<Entry>& out) {
            did.push_back("describe " + std::to_string(n));
            out.emplace_back(lb::test::sample_connection(n));
        };
        io.defer = [this](std::uint32_t n) { did.push_back("defer " + std::to_string(n)); };
        io.settle = [this](std::uint32_t n, std::uint32_t, std::vector<Entry>& out) {
            did.push_back("settle " + std::to_string(n));
            if (!closing.count(n))
                out.emplace_back(lb::test::sample_connection(n));
        };
        io.sweep = [](std::uint32_t, std::vector<Entry>&) {};
        io.entries_held = [this] { return std::uint64_t{table.size()}; };
        io.send = [this](std::size_t peer, std::span<const std::uint8_t> datagram) {
            if (kernel_refuses) {
                ++refused_sends;
                return false;
            }
            outbox.emplace_back(peer, std::vector<std::uint8_t>(datagram.begin(), datagram.end()));
            return true;
        };
        io.log = [this](const std::string& line) { did.push_back("log " + line); };
        io.hold_preemption = [this](std::optional<std::string> reason) {
            did.push_back(reason ? "hold " + *reason : "release");
        };
        io.reset_unknown_flows = [this](bool on) {
            if (on != reset)
                did.push_back(on ? "reset on" : "reset off");
            reset = on;
        };
        return io;
    }

    // A connection this node forwards, as a worker's event: connection n's index is n.
    void create(std::uint32_t n) {
        const ConnectionEntry c = lb::test::sample_connection(n);
        table[key_of(c)] = c;
        core->event(n, n, clock.dataplane());
    }
    void tick() { core->tick(clock.ms, clock.dataplane(), clock.moment()); }
    Transcript take() { return std::exchange(did, {}); }
    std::size_t peer_index(std::uint32_t peer) const {
        return static_cast<std::size_t>(
            std::find(peer_addresses.begin(), peer_addresses.end(), peer) - peer_addresses.begin());
    }
    LinkState state_of(std::uint32_t peer) const {
        return core->peers().status(peer_index(peer), clock.ms).state;
    }
};

// Nodes by address: every step ticks each node, then delivers what it sent to the address of
// the peer it was sent to, as coming from the sender's address.
struct Wire {
    FakeClock clock;
    std::map<std::uint32_t, std::unique_ptr<Node>> nodes;
    std::map<std::uint32_t, std::uint32_t>
        sent_as; // a sender's datagrams come from another address
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> carried; // (from, to): count

    Node& add(std::uint32_t address, const NodeOptions& o) {
        return *(nodes[address] = std::make_unique<Node>(clock, address, o));
    }
    void step() {
        for (auto& [from, node] : nodes)
            node->tick();
        for (auto& [from, node] : nodes)
            for (auto& [peer, bytes] : std::exchange(node->outbox, {})) {
                const auto to = nodes.find(node->peer_addresses[peer]);
                if (to == nodes.end())
                    continue;
                ++carried[{from, to->first}];
                const auto as = sent_as.find(from);
                to->second->core->receive(as == sent_as.end() ? from : as->second, bytes, clock.ms);
            }
    }
    // The driver's period, for `ms` milliseconds.
    void run(std::uint64_t ms) {
        for (const std::uint64_t end = clock.ms + ms; clock.ms < end; clock.ms += 5)
            step();
    }
    // Until every node is in sync, at most `ms` milliseconds.
    bool run_until_in_sync(std::uint64_t ms) {
        for (const std::uint64_t end = clock.ms + ms; clock.ms < end; clock.ms += 5) {
            step();
            if (std::all_of(nodes.begin(), nodes.end(),
                            [](const auto& n) { return n.second->core->state().in_sync; }))
                return true;
        }
        return false;
    }
};

// The transcript with the counts in "(N entries applied)" left as N: how much of a dump one tick
// carries is the protocol's business.
Transcript without_counts(Transcript t) {
    const std::string tail = " entries applied)";
    for (auto& l : t)
        if (l.ends_with(tail))
            l = l.substr(0, l.rfind(" (")) + " (N" + tail;
    return t;
}

bool has(const Transcript& t, const std::string& line) {
    return std::find(t.begin(), t.end(), line) != t.end();
}
std::size_t count_starting(const Transcript& t, const std::string& prefix) {
    return static_cast<std::size_t>(std::count_if(
        t.begin(), t.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; }));
}

} // namespace

TEST_CASE("replication driver: two nodes reach in sync; VRRP is held until then", "[replication]") {
    Wire wire;
    Node& a = wire.add(address_a, {.peers = {address_b}, .epoch = 100});
    // What A forwarded before B started: B gets it in A's dump, large enough to take several
    // ticks (B is seen receiving it).
    for (std::uint32_t n = 0; n < 10'000; ++n) {
        const ConnectionEntry c = lb::test::sample_connection(n);
        a.table[key_of(c)] = c;
    }
    a.create(50'000); // a worker's event: described at once (no sync_after)
    Node& b = wire.add(address_b, {.peers = {address_a}, .epoch = 200});
    CHECK(a.take() ==
          Transcript{"hold session table not in sync with the peer: connecting", "describe 50000"});
    CHECK(b.take() == Transcript{"hold session table not in sync with the peer: connecting"});
    CHECK_FALSE(a.core->in_sync_since());

    wire.step();
    CHECK_FALSE(a.core->state().in_sync);
    CHECK_FALSE(a.reset);

    for (int i = 0; i < 400 && !a.core->state().in_sync; ++i) {
        wire.clock.ms += 5;
        wire.step();
    }
    REQUIRE(a.core->in_sync_since());
    const Moment since = wire.clock.moment(); // the tick that found A in sync
    CHECK(a.core->in_sync_since()->monotonic == since.monotonic);
    CHECK(a.core->in_sync_since()->wall == since.wall);
    REQUIRE(wire.run_until_in_sync(2000));
    wire.run(50); // both see the other in sync, and nothing changes any more
    CHECK(a.core->in_sync_since()->monotonic == since.monotonic); // not every tick
    CHECK(b.replica.size() == 10'001);
    CHECK(b.core->applied(0).applied == b.counters.applied); // all of it came from A
    CHECK(b.core->applied(0).applied >= 10'001);
    CHECK(a.core->applied(0).applied == 0);

    const Transcript ta = a.take();
    const Transcript tb = b.take();
    // Each peer's states once each, in order, with VRRP told the reason each time it changes,
    // then released once; the workers told once (before the log, in the same tick).
    CHECK(ta == Transcript{"log peer 198.51.100.3: receiving bulk (0 entries applied)",
                           "hold session table not in sync with the peer: receiving bulk",
                           "reset on", "log peer 198.51.100.3: in sync (0 entries applied)",
                           "release"});
    CHECK(without_counts(tb) ==
          Transcript{"log peer 198.51.100.2: receiving bulk (N entries applied)",
                     "hold session table not in sync with the peer: receiving bulk", "reset on",
                     "log peer 198.51.100.2: in sync (N entries applied)", "release"});
    REQUIRE(tb.size() == 5);
    CHECK(tb[3] == fmt::format("log peer 198.51.100.2: in sync ({} entries applied)",
                               b.core->applied(0).applied)); // nothing since
    CHECK(a.core->peers().status(0, wire.clock.ms).counters.entries_sent >= 10'001);

    // The peer's entries keep counting as its own.
    a.create(50'001);
    wire.run(20);
    CHECK(a.take() == Transcript{"describe 50001"});
    CHECK(b.replica.size() == 10'002);
    CHECK(b.take().empty());

    // A's dump still arriving after a restart of A (a new run): B holds VRRP again, with the
    // reason, and releases it once the dump is in.
    const auto table = a.table;
    Node& a2 = wire.add(address_a, {.peers = {address_b}, .epoch = 101}); // a is gone
    a2.table = table;
    for (int i = 0; i < 200 && b.core->state().in_sync; ++i, wire.clock.ms += 5)
        wire.step();
    // The workers stop resetting unknown flows while A's table is arriving again.
    CHECK(without_counts(b.take()) ==
          Transcript{"reset off", "log peer 198.51.100.2: receiving bulk (N entries applied)",
                     "hold session table not in sync with the peer: receiving bulk"});
    CHECK_FALSE(b.core->in_sync_since());
    REQUIRE(wire.run_until_in_sync(2000));
    wire.run(50);
    CHECK(without_counts(b.take()) ==
          Transcript{"reset on", "log peer 198.51.100.2: in sync (N entries applied)", "release"});
    CHECK(b.core->in_sync_since());
    CHECK(b.replica.size() == 10'002);
}

TEST_CASE("replication driver: a datagram goes to the peer it came from; strangers are ignored",
          "[replication]") {
    Wire wire;
    // A has two peers; only C runs. B is A's peer number 0, C its number 1.
    Node& a = wire.add(address_a, {.peers = {address_b, address_c}, .epoch = 100});
    Node& c = wire.add(address_c, {.peers = {address_a, address_b}, .epoch = 300});
    c.create(1);
    a.take();

    // C's datagrams reach A from an address in no list: not read, counted, not logged.
    wire.sent_as[address_c] = stranger;
    wire.run(1000);
    const std::uint64_t from_c = wire.carried[{address_c, address_a}];
    REQUIRE(from_c > 0);
    CHECK(a.core->peers().unknown_senders() == from_c);
    CHECK(a.state_of(address_c) == LinkState::connecting);
    CHECK_FALSE(a.core->peers().status(1, wire.clock.ms).last_heard_ms);
    CHECK(a.replica.empty());
    CHECK(a.take().empty());

    // From C's address: C's link hears it, B's does not.
    wire.sent_as.clear();
    wire.run(1000);
    CHECK(a.core->peers().unknown_senders() == from_c);
    CHECK(a.state_of(address_c) == LinkState::in_sync);
    CHECK(a.state_of(address_b) == LinkState::connecting);
    CHECK(a.replica.size() == 1);
    CHECK(a.core->applied(1).applied == a.counters.applied); // all of it is C's
    CHECK(a.core->applied(0).applied == 0);
    const Transcript t = a.take();
    CHECK(count_starting(t, "log peer 198.51.100.4: in sync (") == 1);
    CHECK(count_starting(t, "log peer 198.51.100.3") == 0);
    CHECK(has(t, "release")); // a peer never heard does not hold VRRP
}

TEST_CASE("replication driver: sync_after holds a connection back until it is old enough",
          "[replication]") {
    Wire wire;
    Node& a = wire.add(
        address_a, {.peers = {address_b}, .epoch = 100, .sync_after_ms = 300, .max_deferred = 2});
    Node& b = wire.add(address_b, {.peers = {address_a}, .epoch = 200});
    REQUIRE(wire.run_until_in_sync(2000));
    a.take();
    b.take();

    wire.clock.set_dataplane(0xffffffffu - 100); // it wraps while the entries wait
    const std::uint32_t created = wire.clock.dataplane();
    a.create(1);
    a.create(2);
    a.create(3);                                      // beyond max_deferred: sent at once
    a.core->event(0x40000009, std::nullopt, created); // not a connection's: never held back
    CHECK(a.take() == Transcript{"defer 1", "defer 2", "describe 3", "describe 1073741833"});
    CHECK(a.core->deferred() == 2);
    a.closing.insert(2); // closed before it was due: never sent
    wire.run(20);
    CHECK(b.replica.size() == 2); // 3 and the other kind's
    CHECK(b.replica.count(key_of(lb::test::sample_connection(3))));

    // Due 300 ms after the event, on the dataplane's clock (which wrapped meanwhile).
    while (wire.clock.dataplane() - created < 295) {
        wire.clock.ms += 5;
        wire.step();
    }
    CHECK(a.take().empty());
    CHECK(a.core->deferred() == 2);
    wire.clock.ms += 5;
    wire.step();
    CHECK(wire.clock.dataplane() - created == 300);
    CHECK(wire.clock.dataplane() < created); // wrapped
    CHECK(a.take() == Transcript{"settle 1", "settle 2"});
    CHECK(a.core->deferred() == 0);
    wire.run(20);
    CHECK(b.replica.size() == 3);
    CHECK(b.replica.count(key_of(lb::test::sample_connection(1))));
    CHECK_FALSE(b.replica.count(key_of(lb::test::sample_connection(2))));

    // Without sync_after, every event is described at once.
    b.create(50);
    CHECK(b.take() == Transcript{"describe 50"});
    CHECK(b.core->deferred() == 0);
}

TEST_CASE("replication driver: a configuration mismatch is logged once per peer and episode",
          "[replication]") {
    Digest other{};
    other[0] = 1;
    Wire wire;
    Node& a = wire.add(address_a, {.peers = {address_b, address_c}, .epoch = 100});
    Node& b = wire.add(address_b, {.peers = {address_a, address_c}, .epoch = 200, .digest = other});
    Node& c = wire.add(address_c, {.peers = {address_a, address_b}, .epoch = 300, .digest = other});
    const std::string mismatch =
        "log warning: the peer's configuration differs from ours (peer {}: interfaces, services "
        "or real servers): its entries that name what this node lacks are counted as unbound";
    const auto warning = [&](const std::string& peer) {
        std::string line = mismatch;
        return line.replace(line.find("{}"), 2, peer);
    };
    wire.run(1000);
    Transcript t = a.take();
    CHECK(std::count(t.begin(), t.end(), warning("198.51.100.3")) == 1);
    CHECK(std::count(t.begin(), t.end(), warning("198.51.100.4")) == 1);
    CHECK(count_starting(t, "log warning") == 2);
    t = b.take(); // B and C agree with each other
    CHECK(std::count(t.begin(), t.end(), warning("198.51.100.2")) == 1);
    CHECK(count_starting(t, "log warning") == 1);
    c.take();

    // B reloads to A's configuration: it matches now; a later difference is news again.
    b.core->set_digest(Digest{});
    wire.run(500);
    CHECK(count_starting(a.take(), "log warning") == 0);
    CHECK(a.core->peers().status(0, wire.clock.ms).config_matches);
    b.core->set_digest(other);
    wire.run(500);
    CHECK(a.take() == Transcript{warning("198.51.100.3")});
    wire.run(500);
    CHECK(a.take().empty());
}

TEST_CASE("replication driver: datagrams the kernel refuses are counted per peer",
          "[replication]") {
    Wire wire;
    Node& a = wire.add(address_a, {.peers = {address_b}, .epoch = 100});
    Node& b = wire.add(address_b, {.peers = {address_a}, .epoch = 200});
    a.kernel_refuses = true;
    wire.run(1000);
    CHECK(a.refused_sends > 0);
    CHECK(a.core->send_errors(0) == a.refused_sends);
    CHECK(b.core->send_errors(0) == 0);
    CHECK(b.state_of(address_a) == LinkState::connecting); // nothing of A's arrived
    CHECK_FALSE(b.core->state().in_sync);

    // The protocol sends again what was refused: once the kernel takes them, they get there.
    const std::uint64_t refused = a.refused_sends;
    a.kernel_refuses = false;
    a.create(5);
    REQUIRE(wire.run_until_in_sync(3000));
    wire.run(100);
    CHECK(a.core->send_errors(0) == refused);
    CHECK(b.replica.count(key_of(lb::test::sample_connection(5))));
}

TEST_CASE("replication driver: a key rotation accepts the previous key meanwhile",
          "[replication]") {
    Wire wire;
    Node& a = wire.add(address_a, {.peers = {address_b}, .epoch = 100});
    Node& b = wire.add(address_b, {.peers = {address_a}, .epoch = 200});
    REQUIRE(wire.run_until_in_sync(2000));
    const auto bad_mac = static_cast<std::size_t>(DecodeError::bad_mac);
    const auto refused_by = [&](const Node& n) {
        return n.core->peers().status(0, wire.clock.ms).counters.dropped[bad_mac];
    };

    // A rotated first: it signs with the new key and still accepts B's, signed with the old.
    a.core->set_keys(ring(new_key, old_key));
    b.create(1);
    wire.run(100);
    CHECK(refused_by(a) == 0);
    CHECK(a.replica.count(key_of(lb::test::sample_connection(1))));
    CHECK(refused_by(b) > 0); // B does not know the new key yet

    // B rotates too: both ways again.
    b.core->set_keys(ring(new_key, old_key));
    a.create(2);
    wire.run(300);
    const auto refused_before = refused_by(b);
    wire.run(100);
    CHECK(refused_by(b) == refused_before);
    CHECK(b.replica.count(key_of(lb::test::sample_connection(2))));

    // The rotation is over (no previous key): B's datagrams under the old key would be
    // refused; under the new one they pass.
    a.core->set_keys(ring(new_key, {}));
    b.create(3);
    wire.run(100);
    CHECK(refused_by(a) == 0);
    CHECK(a.replica.count(key_of(lb::test::sample_connection(3))));
    b.core->set_keys(ring(old_key, {}));
    b.create(4);
    wire.run(100);
    CHECK(refused_by(a) > 0);
    CHECK_FALSE(a.replica.count(key_of(lb::test::sample_connection(4))));
}
