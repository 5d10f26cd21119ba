// Replication to a list of peers (issue 14): three nodes, each a PeerSet towards the two others,
// joined by a virtual wire that carries each datagram from one address to another. What one
// node forwards reaches both others; a node that restarts gets its table back from them; a
// datagram from an address outside the list is counted and never read; and "in sync" (VRRP's
// preemption hold) and "complete" (the reset of unknown flows) follow docs/design.md.
#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <set>

#include "modules/replication/peer_set.hpp"
#include "modules/replication/testing/sync_fixtures.hpp"

using namespace lb::control::sync;

namespace {

using Key = std::pair<std::uint32_t, std::uint16_t>; // client address and port

Key key_of(const FlowIdentity& f) {
    return {f.client.address, f.client.port};
}

const std::vector<std::uint8_t> secret(32, 7);
constexpr std::uint32_t address_a = 0xc6336402; // 198.51.100.2
constexpr std::uint32_t address_b = 0xc6336403;
constexpr std::uint32_t address_c = 0xc6336404;

// One node: what it forwards (its table), what it installed from any peer, its PeerSet.
struct Node {
    std::uint32_t address;
    std::map<Key, ConnectionEntry> table;
    std::map<Key, ConnectionEntry> replica;
    std::map<std::size_t, std::size_t> applied_from; // peer index: entries applied
    std::unique_ptr<PeerSet> set;

    Node(std::uint32_t self, std::vector<std::uint32_t> peers, std::uint64_t epoch,
         LinkSettings settings = {})
        : address(self) {
        const auto hooks = [this](std::size_t peer) {
            PeerLink::Hooks h;
            h.current = [this](const Entry& e) { return lb::test::current_in(table, e); };
            h.dump = [this](std::uint64_t& cursor, std::vector<Entry>& out) {
                return lb::test::dump_from(table, cursor, out);
            };
            h.apply = [this, peer](const Entry& e) {
                ++applied_from[peer];
                if (const auto* c = std::get_if<ConnectionEntry>(&e))
                    replica[key_of(c->flow)] = *c;
            };
            return h;
        };
        set = std::make_unique<PeerSet>(settings, epoch, KeyRing{MessageKey(secret), std::nullopt},
                                        Digest{}, self, std::move(peers), hooks);
    }

    void create(std::uint32_t n) {
        const ConnectionEntry c = lb::test::sample_connection(n);
        table[key_of(c.flow)] = c;
        set->queue(c);
    }
    LinkState state_of(std::uint32_t peer, std::uint64_t now) const {
        for (std::size_t i = 0; i < set->size(); ++i)
            if (set->address(i) == peer)
                return set->status(i, now).state;
        FAIL("not a peer");
        return LinkState::connecting;
    }
};

// Datagrams by address, delivered on the next step; a node that is down sends and gets nothing.
struct Wire {
    std::map<std::uint32_t, Node*> nodes;
    std::set<std::uint32_t> down;
    std::deque<std::tuple<std::uint32_t, std::uint32_t, std::vector<std::uint8_t>>> in_transit;

    void attach(Node& n) {
        nodes[n.address] = &n;
        down.erase(n.address);
    }
    void step(std::uint64_t now) {
        for (auto& [from, node] : nodes)
            if (!down.count(from))
                for (auto& out : node->set->poll(now))
                    in_transit.emplace_back(from, node->set->address(out.peer),
                                            std::move(out.datagram));
        while (!in_transit.empty()) {
            auto [from, to, bytes] = std::move(in_transit.front());
            in_transit.pop_front();
            if (nodes.count(to) && !down.count(to))
                nodes[to]->set->receive(from, bytes, now);
        }
    }
    void run(std::uint64_t& now, std::uint64_t ms) {
        for (const std::uint64_t end = now + ms; now < end; ++now)
            step(now);
    }
};

} // namespace

TEST_CASE("peer set: what one node forwards reaches every other, both ways", "[replication]") {
    Node a(address_a, {address_b, address_c}, 100);
    Node b(address_b, {address_a, address_c}, 200);
    Node c(address_c, {address_a, address_b}, 300);
    Wire wire;
    for (Node* n : {&a, &b, &c})
        wire.attach(*n);
    std::uint64_t now = 0;
    wire.run(now, 500);
    for (Node* n : {&a, &b, &c}) {
        CHECK(n->set->update(now).in_sync);
        CHECK(n->set->update(now).complete);
    }
    for (std::uint32_t i = 0; i < 300; ++i)
        a.create(i);
    for (std::uint32_t i = 1000; i < 1100; ++i)
        c.create(i);
    wire.run(now, 200);
    CHECK(b.replica.size() == 400);
    CHECK(c.replica.size() == 300);
    CHECK((c.replica == a.table));
    CHECK(a.replica.size() == 100);
    CHECK((a.replica == c.table));
    // B counts what came from whom: index 0 is A, 1 is C.
    CHECK(b.applied_from[0] == 300);
    CHECK(b.applied_from[1] == 100);
    CHECK(a.set->status(0, now).counters.entries_sent == 300); // to B
    CHECK(a.set->status(1, now).counters.entries_sent == 300); // to C
    CHECK(a.set->unknown_senders() == 0);
}

TEST_CASE("peer set: a restarted node gets the table from every peer", "[replication]") {
    Node a(address_a, {address_b, address_c}, 100);
    Node b(address_b, {address_a, address_c}, 200);
    auto c =
        std::make_unique<Node>(address_c, std::vector<std::uint32_t>{address_a, address_b}, 300);
    Wire wire;
    wire.attach(a);
    wire.attach(b);
    wire.attach(*c);
    std::uint64_t now = 0;
    wire.run(now, 500);
    for (std::uint32_t i = 0; i < 500; ++i)
        a.create(i);
    for (std::uint32_t i = 2000; i < 2200; ++i)
        b.create(i);
    wire.run(now, 200);
    REQUIRE(c->replica.size() == 700);

    // C dies (kill -9) and comes back as a new run: a later epoch, an empty table.
    wire.down.insert(address_c);
    wire.run(now, 1500);
    CHECK(a.state_of(address_c, now) == LinkState::peer_lost);
    CHECK(a.set->update(now).in_sync); // B still is: a dead node does not hold A back
    c = std::make_unique<Node>(address_c, std::vector<std::uint32_t>{address_a, address_b}, 400);
    wire.attach(*c);
    CHECK_FALSE(c->set->update(now).in_sync);
    wire.run(now, 1000);
    CHECK(c->set->update(now).in_sync);
    CHECK(c->replica.size() == 700);
    CHECK(a.set->status(1, now).counters.bulk_dumps_sent == 2); // at start, and now
    CHECK(b.set->status(1, now).counters.bulk_dumps_sent == 2);
    CHECK(a.state_of(address_c, now) == LinkState::in_sync);
}

TEST_CASE("peer set: a datagram from an address outside the list is counted, never read",
          "[replication]") {
    Node a(address_a, {address_b}, 100);
    Node b(address_b, {address_a}, 200);
    // D has the key and thinks A is its peer; A does not list D.
    const std::uint32_t address_d = 0xc6336409;
    Node d(address_d, {address_a}, 900);
    for (std::uint32_t i = 0; i < 50; ++i)
        d.create(i);
    Wire wire;
    wire.attach(a);
    wire.attach(b);
    wire.attach(d);
    std::uint64_t now = 0;
    wire.run(now, 500);
    CHECK(a.set->unknown_senders() > 0);
    CHECK(a.replica.empty());
    CHECK(a.state_of(address_b, now) == LinkState::in_sync);
    CHECK(a.set->status(0, now).counters.datagrams_received > 0);
    // Nothing of D's was even decoded: no link counted a drop.
    for (const auto n : a.set->status(0, now).counters.dropped)
        CHECK(n == 0);
}

TEST_CASE("peer set: in sync and complete with peers in every state", "[replication]") {
    std::uint64_t now = 0;
    SECTION("nobody heard yet: neither, and the hold names every peer") {
        Node a(address_a, {address_b, address_c}, 100);
        const SetState s = a.set->update(now);
        CHECK_FALSE(s.in_sync);
        CHECK_FALSE(s.complete);
        CHECK(s.reason == "198.51.100.3 connecting, 198.51.100.4 connecting");
    }
    SECTION("one peer, as a pair: the reason is the link's state") {
        Node a(address_a, {address_b}, 100);
        CHECK(a.set->update(now).reason == "connecting");
    }
    SECTION("one peer in sync, one never heard: in sync") {
        Node a(address_a, {address_b, address_c}, 100);
        Node b(address_b, {address_a, address_c}, 200);
        Wire wire;
        wire.attach(a);
        wire.attach(b);
        wire.run(now, 500);
        const SetState s = a.set->update(now);
        CHECK(s.in_sync);
        CHECK(s.complete);
        // B is lost too: nobody in sync any more, but the table A had stays complete.
        wire.down.insert(address_b);
        wire.run(now, 1500);
        const SetState lost = a.set->update(now);
        CHECK_FALSE(lost.in_sync);
        CHECK(lost.complete);
    }
    SECTION("a peer lost while its table was arriving keeps the table incomplete") {
        LinkSettings slow;
        slow.window = 2; // B's dump arrives a few datagrams at a time
        Node a(address_a, {address_b, address_c}, 100);
        Node b(address_b, {address_a, address_c}, 200, slow);
        Node c(address_c, {address_a, address_b}, 300);
        for (std::uint32_t i = 0; i < 5000; ++i)
            b.table[key_of(lb::test::sample_connection(i).flow)] = lb::test::sample_connection(i);
        Wire wire;
        wire.attach(a);
        wire.attach(c);
        wire.run(now, 500);
        wire.attach(b);
        wire.run(now, 150); // A asks B for its table at 600 ms; by 650 part of it is here
        REQUIRE(a.state_of(address_b, now) == LinkState::receiving_bulk);
        const SetState arriving = a.set->update(now);
        CHECK_FALSE(arriving.in_sync); // C is in sync, but B's table is still arriving
        CHECK_FALSE(arriving.complete);
        CHECK(arriving.reason == "198.51.100.3 receiving bulk");
        wire.down.insert(address_b);
        wire.run(now, 1500);
        const SetState lost = a.set->update(now);
        CHECK(lost.in_sync);        // C still is, and B is gone: preempting is safe
        CHECK_FALSE(lost.complete); // B's flows may be the unknown ones: never reset them
        CHECK(a.replica.size() > 0);
        CHECK(a.replica.size() < 5000);
    }
}
