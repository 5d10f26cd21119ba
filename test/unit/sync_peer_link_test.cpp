// The replication protocol as two endpoints back to back on a virtual clock (issue "Session
// replication", acceptance 10): a fresh peer gets a full dump and reports in sync; under loss,
// reordering and duplication every change arrives and the resend counters show the repair;
// replays, earlier runs and forgeries are refused by reason; a silent peer is
// lost within its timeout; a queue that overflows is repaired by a refresh.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <functional>
#include <map>
#include <optional>
#include <random>

#include "modules/replication/peer_link.hpp"
#include "modules/replication/testing/sync_fixtures.hpp"

using namespace lb::control::sync;

namespace {

using Key = std::pair<std::uint32_t, std::uint16_t>; // client address and port

Key key_of(const FlowIdentity& f) {
    return {f.client.address, f.client.port};
}

ConnectionEntry connection(std::uint32_t n, std::uint8_t state = 3) {
    return lb::test::sample_connection(n, state);
}

// One node: its own table, what it holds of its peer's, and its end of the link.
struct Node {
    std::map<Key, ConnectionEntry> table;
    std::map<Key, ConnectionEntry> replica;
    std::unique_ptr<PeerLink> link;

    // Node epoch 1000 is 192.0.2.1 and its peer 192.0.2.2; any other epoch the other way round
    // (two nodes' links face each other).
    Node(std::uint64_t epoch, LinkSettings settings = {}, std::uint8_t key_fill = 1,
         std::optional<bool> first = std::nullopt) {
        const bool is_first = first.value_or(epoch == 1000);
        self = node_id_v4(is_first ? 0xc0000201 : 0xc0000202);
        peer = node_id_v4(is_first ? 0xc0000202 : 0xc0000201);
        PeerLink::Hooks hooks;
        hooks.current = [this](const Entry& e) { return lb::test::current_in(table, e); };
        hooks.dump = [this](std::uint64_t& cursor, std::vector<Entry>& out) {
            return lb::test::dump_from(table, cursor, out);
        };
        hooks.apply = [this](const Entry& e) {
            if (const auto* c = std::get_if<ConnectionEntry>(&e))
                replica[key_of(c->flow)] = *c;
            else if (const auto* d = std::get_if<DeletionEntry>(&e))
                replica.erase(key_of(d->flow));
        };
        link = std::make_unique<PeerLink>(
            settings, epoch, self, peer,
            KeyRing{MessageKey(std::vector<std::uint8_t>(32, key_fill)), std::nullopt}, Digest{},
            std::move(hooks));
    }
    NodeId self{};
    NodeId peer{};

    void create(std::uint32_t n, std::uint8_t state = 3) {
        table[key_of(connection(n).flow)] = connection(n, state);
        link->queue(connection(n, state));
    }
    void remove(std::uint32_t n) {
        table.erase(key_of(connection(n).flow));
        DeletionEntry d;
        d.flow = connection(n).flow;
        link->queue(d);
    }
    std::size_t dropped(DropReason r, std::uint64_t now) const {
        return link->status(now).counters.dropped[static_cast<std::size_t>(r)];
    }
};

// The wire between two nodes: each datagram may be lost, duplicated or delayed (reordered).
struct Wire {
    double loss = 0, duplication = 0;
    std::uint64_t max_delay_ms = 0;
    std::mt19937 random{42};
    std::multimap<std::uint64_t, std::pair<Node*, std::vector<std::uint8_t>>> in_transit;
    bool a_down = false;

    void send(Node& to, std::vector<std::uint8_t> d, std::uint64_t now) {
        std::uniform_real_distribution<double> p(0, 1);
        if (p(random) < loss)
            return;
        std::uniform_int_distribution<std::uint64_t> delay(1, 1 + max_delay_ms);
        if (p(random) < duplication)
            in_transit.emplace(now + delay(random), std::make_pair(&to, d));
        in_transit.emplace(now + delay(random), std::make_pair(&to, std::move(d)));
    }
    void step(Node& a, Node& b, std::uint64_t now) {
        if (!a_down)
            for (auto& d : a.link->poll(now))
                send(b, std::move(d), now);
        for (auto& d : b.link->poll(now))
            if (!a_down)
                send(a, std::move(d), now);
        while (!in_transit.empty() && in_transit.begin()->first <= now) {
            auto [to, bytes] = std::move(in_transit.begin()->second);
            in_transit.erase(in_transit.begin());
            if (!(a_down && to == &a))
                to->link->receive(bytes, now);
        }
    }
};

} // namespace

namespace {
using Filter = std::function<bool(bool from_a, const std::vector<std::uint8_t>&)>;
void exchange(Node& a, Node& b, std::uint64_t& now, std::uint64_t ms, const Filter& keep = {});
} // namespace

TEST_CASE("sync link: a peer that starts later gets a full dump and reports in sync") {
    Node a(1000), b(2000);
    for (std::uint32_t n = 0; n < 2000; ++n)
        a.table[key_of(connection(n).flow)] = connection(n);
    Wire wire;
    std::uint64_t now = 0;
    for (; now < 3000 && b.link->status(now).state != LinkState::in_sync; ++now)
        wire.step(a, b, now);
    CHECK(b.link->status(now).state == LinkState::in_sync);
    CHECK(b.replica.size() == a.table.size());
    CHECK((b.replica == a.table));
    CHECK(a.link->status(now).counters.bulk_dumps_sent == 1);
    // Both directions: A got B's (empty) dump and is in sync too; B knows it.
    for (std::uint64_t end = now + 500; now < end; ++now)
        wire.step(a, b, now);
    CHECK(a.link->status(now).state == LinkState::in_sync);
    CHECK(b.link->status(now).peer_in_sync);
}

TEST_CASE("sync link: under loss, duplication and reordering every change arrives") {
    Node a(1000), b(2000);
    Wire wire;
    wire.loss = 0.10;
    wire.duplication = 0.05;
    wire.max_delay_ms = 20;
    std::uint64_t now = 0;
    std::uint32_t created = 0;
    for (; now < 4000; ++now) {
        if (now % 2 == 0 && created < 5000)
            for (int i = 0; i < 5; ++i)
                a.create(created++);
        if (now % 7 == 0 && created > 100)
            a.remove(created - 100); // deletions travel the same way
        if (now % 11 == 0 && created > 50)
            a.create(created - 50, 4); // and state changes
        wire.step(a, b, now);
    }
    wire.loss = 0;
    for (std::uint64_t end = now + 2000; now < end; ++now)
        wire.step(a, b, now);
    CHECK(b.replica.size() == a.table.size());
    CHECK((b.replica == a.table));
    const auto s = a.link->status(now);
    CHECK(s.counters.entries_resent > 0);
    CHECK(s.in_flight == 0);
    CHECK(s.queue_depth == 0);
    CHECK(b.link->status(now).counters.dropped[static_cast<std::size_t>(DropReason::replayed)] >
          0); // the duplicates
    CHECK(b.link->status(now).state == LinkState::in_sync);
}

TEST_CASE("sync link: replays, earlier runs and forgeries are refused") {
    Node a(1000), b(2000);
    Wire wire;
    std::uint64_t now = 0;
    for (; now < 300; ++now)
        wire.step(a, b, now);
    a.create(1);
    auto sent = a.link->poll(now);
    REQUIRE(!sent.empty());
    std::vector<std::uint8_t> entries_datagram;
    for (auto& d : sent)
        if (d[5] == static_cast<std::uint8_t>(MessageType::entries))
            entries_datagram = d;
    REQUIRE(!entries_datagram.empty());
    b.link->receive(entries_datagram, now);
    b.replica.clear();
    b.link->receive(entries_datagram, now); // the same again
    CHECK(b.replica.empty());
    auto dropped = [&](DropReason r) {
        return b.link->status(now).counters.dropped[static_cast<std::size_t>(r)];
    };
    CHECK(dropped(DropReason::replayed) == 1);

    // A restarts (a later epoch): the old run's datagrams are stale from then on.
    Node a2(1001, {}, 1, true);
    exchange(a2, b, now, 50); // the handshake: each proves to the other it is alive
    b.link->receive(entries_datagram, now);
    CHECK(dropped(DropReason::stale_epoch) == 1);
    CHECK(b.link->status(now).peer_epoch == 1001);

    // Datagrams signed with another key are forgeries.
    Node other(3000, {}, 9, true); // another key altogether
    for (auto& d : other.link->poll(now))
        b.link->receive(d, now);
    CHECK(dropped(static_cast<DropReason>(static_cast<std::size_t>(DecodeError::bad_mac))) == 1);
}

TEST_CASE("sync link: a silent peer is lost within its timeout, and found again") {
    Node a(1000), b(2000);
    Wire wire;
    std::uint64_t now = 0;
    for (; now < 500; ++now)
        wire.step(a, b, now);
    REQUIRE(b.link->status(now).state == LinkState::in_sync);
    wire.a_down = true;
    const std::uint64_t silent_from = now;
    for (; b.link->status(now).state != LinkState::peer_lost && now < silent_from + 5000; ++now)
        wire.step(a, b, now);
    CHECK(b.link->status(now).state == LinkState::peer_lost);
    CHECK(now - silent_from <= 1000 + 200 + 1); // timeout plus one hello interval
    wire.a_down = false;
    for (std::uint64_t end = now + 500; now < end; ++now)
        wire.step(a, b, now);
    CHECK(b.link->status(now).state == LinkState::in_sync);
}

TEST_CASE("sync link: a queue that overflows is repaired by a refresh, nothing lost") {
    LinkSettings small;
    small.queue_limit = 100;
    small.window = 4;
    Node a(1000, small), b(2000);
    Wire wire;
    std::uint64_t now = 0;
    for (; now < 300; ++now)
        wire.step(a, b, now);
    for (std::uint32_t n = 0; n < 3000; ++n)
        a.create(n);
    for (std::uint64_t end = now + 5000; now < end; ++now)
        wire.step(a, b, now);
    const auto s = a.link->status(now);
    CHECK(s.counters.queue_overflows > 0);
    CHECK(s.counters.bulk_dumps_sent >= 2);
    CHECK(b.replica.size() == a.table.size());
    CHECK((b.replica == a.table));
}

// ---- issue 21: each finding of the review, as the fault that showed it ------------------------

namespace {

// Steps both nodes without a Wire: every datagram delivered at once, unless `keep` takes it.
void exchange(Node& a, Node& b, std::uint64_t& now, std::uint64_t ms, const Filter& keep) {
    for (const std::uint64_t end = now + ms; now < end; ++now) {
        for (auto& d : a.link->poll(now))
            if (!keep || keep(true, d))
                b.link->receive(d, now);
        for (auto& d : b.link->poll(now))
            if (!keep || keep(false, d))
                a.link->receive(d, now);
    }
}

bool is_entries(const std::vector<std::uint8_t>& d) {
    return d[5] == static_cast<std::uint8_t>(MessageType::entries);
}

void fill(Node& n, std::uint32_t count, std::uint32_t from = 0) {
    for (std::uint32_t i = from; i < from + count; ++i)
        n.table[key_of(connection(i).flow)] = connection(i);
}

} // namespace

TEST_CASE("sync link 21.1: a sender numbering past 2^31 and 2^32 brings a new peer in sync") {
    for (const std::uint64_t start : {(1ULL << 31) - 3, (1ULL << 31), (1ULL << 32) - 3}) {
        LinkSettings s;
        s.first_sequence = start;
        Node a(1000, s), b(2000);
        fill(a, 500);
        std::uint64_t now = 0;
        exchange(a, b, now, 300);
        for (std::uint32_t n = 500; n < 600; ++n)
            a.create(n); // live changes across the boundary
        exchange(a, b, now, 300);
        INFO("first sequence " << start);
        CHECK(b.link->status(now).state == LinkState::in_sync);
        CHECK(b.replica == a.table);
        CHECK(b.dropped(DropReason::replayed, now) == 0);
        CHECK(a.link->status(now).sequence_sent > (1ULL << 31) - 3);
    }
}

TEST_CASE("sync link 21.2: our own datagram sent back to us is refused as reflected") {
    Node a(1000), b(2000);
    fill(a, 10);
    std::uint64_t now = 0;
    exchange(a, b, now, 300);
    REQUIRE(a.link->status(now).state == LinkState::in_sync);
    const auto ours = a.link->poll(now + 1000); // a hello at least
    REQUIRE(!ours.empty());
    for (const auto& d : ours)
        a.link->receive(d, now);
    CHECK(a.dropped(DropReason::reflected, now) == ours.size());
    CHECK(a.link->status(now).peer_epoch == 2000); // unchanged
    exchange(a, b, now, 300);
    CHECK(a.link->status(now).state == LinkState::in_sync);
    CHECK(b.link->status(now).state == LinkState::in_sync);
    CHECK(a.dropped(DropReason::stale_epoch, now) == 0);
}

TEST_CASE("sync link 21.3: a lost first datagram of a dump is asked for, never skipped") {
    Node a(1000), b(2000);
    fill(a, 5000);
    std::uint64_t now = 0;
    bool first_dropped = false;
    exchange(a, b, now, 2000, [&](bool from_a, const std::vector<std::uint8_t>& d) {
        if (from_a && is_entries(d) && !first_dropped) {
            first_dropped = true;
            return false;
        }
        return true;
    });
    REQUIRE(first_dropped);
    CHECK(b.link->status(now).state == LinkState::in_sync);
    CHECK(b.replica.size() == 5000);
}

TEST_CASE("sync link 21.3: a datagram replayed to a restarted receiver changes nothing") {
    Node a(1000), b(2000);
    std::uint64_t now = 0;
    exchange(a, b, now, 300);
    a.create(1);
    std::vector<std::uint8_t> captured;
    exchange(a, b, now, 50, [&](bool from_a, const std::vector<std::uint8_t>& d) {
        if (from_a && is_entries(d) && captured.empty())
            captured = d;
        return true;
    });
    REQUIRE(!captured.empty());
    a.remove(1);
    exchange(a, b, now, 100);
    Node b2(2001, {}, 1, false); // B restarts, empty
    exchange(a, b2, now, 300);
    REQUIRE(b2.link->status(now).state == LinkState::in_sync);
    b2.link->receive(captured, now);
    CHECK(b2.replica.empty()); // the deleted entry stays deleted
    CHECK(b2.dropped(DropReason::not_for_us, now) == 1);
    exchange(a, b2, now, 300);
    CHECK(b2.link->status(now).state == LinkState::in_sync);
}

TEST_CASE("sync link 21.5: a receiver restarted mid-dump is never in sync holding less") {
    Node a(1000), b(2000);
    fill(a, 20'000);
    std::uint64_t now = 0;
    exchange(a, b, now, 2);
    REQUIRE(!b.replica.empty());
    REQUIRE(b.replica.size() < 20'000);
    Node b2(2001, {}, 1, false);
    for (std::uint64_t end = now + 3000; now < end; ++now) {
        for (auto& d : a.link->poll(now))
            b2.link->receive(d, now); // the first run's datagrams too
        for (auto& d : b2.link->poll(now))
            a.link->receive(d, now);
        if (b2.link->status(now).state == LinkState::in_sync) {
            REQUIRE(b2.replica.size() == 20'000);
            break;
        }
    }
    CHECK(b2.link->status(now).state == LinkState::in_sync);
    CHECK(a.link->status(now).counters.bulk_dumps_sent == 2);
}

TEST_CASE(
    "sync link 21.6: a peer restarted with a smaller epoch syncs once its old run is silent") {
    Node a(1000), b(2000);
    fill(b, 100);
    std::uint64_t now = 0;
    exchange(a, b, now, 300);
    REQUIRE(a.link->status(now).state == LinkState::in_sync);
    Node b_stepped(1500, {}, 1, false); // the wall clock stepped back: a smaller epoch
    fill(b_stepped, 100);
    exchange(a, b_stepped, now, 2000);
    CHECK(a.link->status(now).peer_epoch == 1500);
    CHECK(a.link->status(now).state == LinkState::in_sync);
    CHECK(b_stepped.link->status(now).state == LinkState::in_sync);
    CHECK(a.dropped(DropReason::stale_epoch, now) > 0); // until the old run fell silent
    // ...and the old run, replayed, is never taken back.
    Node b_old(2000, {}, 1, false);
    for (const auto& d : b_old.link->poll(now))
        a.link->receive(d, now);
    CHECK(a.link->status(now).peer_epoch == 1500);
}

TEST_CASE("sync link 21.8: a flood of forgeries is verified at a bounded rate") {
    LinkSettings s;
    s.verifications_per_s = 1000;
    Node a(1000, s), b(2000);
    std::uint64_t now = 0;
    exchange(a, b, now, 300);
    Node forger(3000, {}, 9, false); // B's address and identity, the wrong key
    std::size_t sent = 0;
    for (int i = 0; i < 50; ++i)
        for (const auto& d : forger.link->poll(now + 1000 * static_cast<std::uint64_t>(i))) {
            for (int copy = 0; copy < 100; ++copy)
                a.link->receive(d, now);
            sent += 100;
        }
    const auto verified = a.dropped(static_cast<DropReason>(DecodeError::bad_mac), now);
    CHECK(verified <= 1000);
    CHECK(verified + a.dropped(DropReason::rate_limited, now) == sent);
    exchange(a, b, now, 2000); // a second later the peer's own datagrams are verified again
    CHECK(a.link->status(now).state == LinkState::in_sync);
}

TEST_CASE("sync link 21.9: a deletion lost to a full queue still reaches the peer") {
    LinkSettings s;
    s.queue_limit = 10;
    s.window = 2;
    Node a(1000, s), b(2000);
    fill(a, 50);
    std::uint64_t now = 0;
    exchange(a, b, now, 500);
    REQUIRE(b.replica.size() == 50);
    // The link is down (both ways) while A's table changes far more than its queue holds.
    exchange(a, b, now, 1500, [](bool, const std::vector<std::uint8_t>&) { return false; });
    for (std::uint32_t n = 0; n < 40; ++n)
        a.remove(n);
    for (std::uint32_t n = 100; n < 130; ++n)
        a.create(n);
    CHECK(a.link->status(now).counters.queue_overflows > 0);
    exchange(a, b, now, 3000);
    CHECK(b.replica == a.table);
    CHECK(b.link->status(now).state == LinkState::in_sync);
}

TEST_CASE("sync link 21.9: resends back off while the peer does not answer") {
    Node a(1000), b(2000);
    std::uint64_t now = 0;
    exchange(a, b, now, 300);
    a.create(1);
    std::size_t entries_datagrams = 0;
    // B hears A (its hellos) but its answers are lost: A keeps hearing nothing... for 900 ms.
    exchange(a, b, now, 900, [&](bool from_a, const std::vector<std::uint8_t>& d) {
        if (from_a && is_entries(d))
            ++entries_datagrams;
        return from_a && !is_entries(d);
    });
    // 200, 400 and 800 ms after the first send, not every 200 ms (nor while B is lost).
    CHECK(entries_datagrams <= 4);
}

TEST_CASE("sync link 21.9: datagrams far ahead of a gap are not held") {
    LinkSettings s;
    s.window = 8;
    Node a(1000, s), b(2000, s);
    std::uint64_t now = 0;
    exchange(a, b, now, 300);
    // Signed by A's key and naming both runs right, but far beyond what A may have in flight:
    // a buggy or compromised peer must not make B hold without bound.
    const std::uint64_t through = b.link->status(now).received_through;
    DatagramBuilder builder;
    for (std::uint64_t ahead = 2; ahead < 200; ++ahead) {
        Header h;
        h.type = MessageType::entries;
        h.epoch = 1000;
        h.receiver_epoch = 2000;
        h.sequence = through + ahead;
        h.sender = a.self;
        h.receiver = b.self;
        builder.start(h);
        builder.add(Entry{connection(static_cast<std::uint32_t>(ahead))});
        const auto bytes = builder.finish(MessageKey(std::vector<std::uint8_t>(32, 1)));
        b.link->receive(std::vector<std::uint8_t>(bytes.begin(), bytes.end()), now);
    }
    CHECK(b.link->status(now).held_ahead <= 8);
    CHECK(b.dropped(DropReason::ahead_of_window, now) >= 190);
}

TEST_CASE("sync link 21.10: during a key rotation both keys are accepted") {
    Node a(1000, {}, 1), b(2000, {}, 2);
    std::uint64_t now = 0;
    exchange(a, b, now, 300);
    CHECK(b.link->status(now).state != LinkState::in_sync); // different keys: nothing passes
    // B rotates to A's key, keeping its old one as the previous; then A to B's old one too.
    b.link->set_keys(KeyRing{MessageKey(std::vector<std::uint8_t>(32, 1)),
                             MessageKey(std::vector<std::uint8_t>(32, 2))});
    fill(a, 10);
    a.create(10);
    exchange(a, b, now, 2000);
    CHECK(b.link->status(now).state == LinkState::in_sync);
    CHECK(a.link->status(now).state == LinkState::in_sync);
    CHECK(b.replica == a.table);
}

TEST_CASE(
    "sync link 21.2: a replayed hello of another run never takes the silent live run's place") {
    Node a(1000), b(2000);
    fill(b, 20);
    std::uint64_t now = 0;
    // A run of B that A never adopted: its hello, captured.
    Node b_other(1500, {}, 1, false);
    const auto captured = b_other.link->poll(now);
    REQUIRE(!captured.empty());
    exchange(a, b, now, 300);
    REQUIRE(a.link->status(now).state == LinkState::in_sync);
    // B falls silent (the link is cut) long enough to be lost; the capture is replayed to A.
    exchange(a, b, now, 1500, [](bool, const std::vector<std::uint8_t>&) { return false; });
    for (const auto& d : captured)
        a.link->receive(d, now);
    CHECK(a.link->status(now).peer_epoch == 2000); // it cannot prove it is alive: not adopted
    exchange(a, b, now, 2000);
    CHECK(a.link->status(now).peer_epoch == 2000);
    CHECK(a.link->status(now).state == LinkState::in_sync);
    CHECK(b.link->status(now).state == LinkState::in_sync);
    CHECK(a.replica == b.table);
}
