// The replication protocol as two endpoints back to back on a virtual clock (issue "Session
// replication", acceptance 10): a fresh peer gets a full dump and reports in sync; under loss,
// reordering and duplication every change arrives and the resend counters show the repair;
// replays, earlier runs and forgeries are refused by reason; a silent peer is
// lost within its timeout; a queue that overflows is repaired by a refresh.
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <map>
#include <random>

#include "control/sync/peer_link.hpp"
#include "test/sync_fixtures.hpp"

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

    Node(std::uint64_t epoch, LinkSettings settings = {}, std::uint8_t key_fill = 1) {
        PeerLink::Hooks hooks;
        hooks.current = [this](const Entry& e) -> std::optional<Entry> {
            const auto& c = std::get<ConnectionEntry>(e);
            const auto it = table.find(key_of(c.flow));
            if (it == table.end())
                return std::nullopt;
            return Entry{it->second};
        };
        hooks.dump = [this](std::uint64_t& cursor, std::vector<Entry>& out) {
            auto it = table.begin();
            std::advance(it, static_cast<long>(std::min<std::uint64_t>(cursor, table.size())));
            for (int n = 0; n < 50 && it != table.end(); ++n, ++it, ++cursor)
                out.emplace_back(it->second);
            return it != table.end();
        };
        hooks.apply = [this](const Entry& e) {
            if (const auto* c = std::get_if<ConnectionEntry>(&e))
                replica[key_of(c->flow)] = *c;
            else if (const auto* d = std::get_if<DeletionEntry>(&e))
                replica.erase(key_of(d->flow));
        };
        link = std::make_unique<PeerLink>(settings, epoch,
                                          MessageKey(std::vector<std::uint8_t>(32, key_fill)),
                                          Digest{}, std::move(hooks));
    }

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
    Node a2(1001);
    for (auto& d : a2.link->poll(now))
        b.link->receive(d, now);
    b.link->receive(entries_datagram, now);
    CHECK(dropped(DropReason::stale_epoch) == 1);
    CHECK(b.link->status(now).peer_epoch == 1001);

    // Datagrams signed with another key are forgeries.
    Node other(3000, {}, 9); // another key altogether
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
