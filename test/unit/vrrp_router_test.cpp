// Two (or one) VRRP routers wired back to back on a virtual clock: elections, takeover, tracking,
// sync groups and gratuitous ARPs, with the real frames between them.
#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <vector>

#include "modules/vrrp/frames.hpp"
#include "modules/vrrp/router.hpp"
#include "modules/vrrp/tracker.hpp"
#include "test/test_config.hpp"

using namespace lb::control::vrrp;
using namespace std::chrono_literals;

namespace {

std::string node(const std::string& address, const std::string& instances,
                 const std::string& extra = "") {
    return "node: {name: n}\ninterfaces:\n  - {name: ext, device: d0, address: " + address +
           "/24}\nservices:\n  - name: web\n    vip: 198.51.100.100\n    port: 80\n    "
           "real_servers:"
           "\n      - {address: 198.51.100.21}\n      - {address: 198.51.100.22}\n" +
           "vrrp:\n" + extra + "  instances:\n" + instances;
}

std::string instance(const std::string& name, int vrid, int priority,
                     const std::string& extra = "") {
    return "    - name: " + name +
           "\n      interface: ext\n      virtual_router_id: " + std::to_string(vrid) +
           "\n      priority: " + std::to_string(priority) +
           "\n      advert_int: 100ms\n      virtual_addresses: [198.51.100." +
           std::to_string(100 + vrid) + "]\n" + extra;
}

struct Node {
    explicit Node(const std::string& yaml) : config(lb::test::config_from(yaml)) {
        router = std::make_unique<Router>(
            config, std::vector<Mac>{Mac{2, 0, 0, 0, 0, 1}},
            [this](std::uint8_t, std::vector<std::uint8_t> f) { outbox.push_back(std::move(f)); },
            [](std::uint32_t, std::uint8_t) { return std::nullopt; },
            [this](const Transition& t) {
                transitions.push_back(t);
                // `settings` is valid during the call only.
                settings.push_back(t.settings ? *t.settings : lb::control::config::VrrpInstance{});
            });
    }
    State state(std::size_t i = 0) const { return router->status()[i].state; }

    lb::control::config::Config config;
    std::unique_ptr<Router> router;
    std::vector<std::vector<std::uint8_t>> outbox;
    std::vector<Transition> transitions;
    std::vector<lb::control::config::VrrpInstance> settings; // each transition's
    bool alive = true;
    bool hears = true; // false: its link is down, nothing reaches it
    int gratuitous_arps = 0;
};

// Runs the nodes' timers for `duration` in 1 ms steps, delivering each advertisement a node
// sends to every other live node.
struct Link {
    std::vector<Node*> nodes;
    Clock::time_point now{};

    void start() {
        for (auto* n : nodes)
            n->router->start(now);
        deliver();
    }
    void run(std::chrono::milliseconds duration) {
        for (auto end = now + duration; now < end; now += 1ms) {
            for (auto* n : nodes)
                if (n->alive)
                    n->router->tick(now);
            deliver();
        }
    }
    void deliver() {
        for (auto* from : nodes) {
            auto frames = std::move(from->outbox);
            from->outbox.clear();
            for (auto& f : frames) {
                if (f[12] == 0x08 && f[13] == 0x06) {
                    ++from->gratuitous_arps;
                    continue;
                }
                for (auto* to : nodes)
                    if (to != from && to->alive && to->hears && from->alive)
                        to->router->receive(0, f.data(), f.size(), now);
            }
        }
    }
};

} // namespace

TEST_CASE("Frames: an advertisement in IPv4 with TTL 255 that decodes back; a gratuitous ARP") {
    Message m;
    m.vrid = 51;
    m.priority = 150;
    m.interval_centiseconds = 10;
    m.addresses = {0xc6336464};
    const auto f = advert_frame(m, virtual_mac(51), multicast_mac, 0xc6336402, multicast_group);
    REQUIRE(f.size() >= 60);
    CHECK(f[0] == 0x01);
    CHECK(f[11] == 51); // source: the virtual MAC
    const auto p = received_packet(f.data(), f.size());
    REQUIRE(p);
    CHECK(p->ttl == 255);
    CHECK(p->source == 0xc6336402);
    CHECK(p->destination == multicast_group);
    // The IPv4 header checksum is right: summing the header with it gives 0xffff.
    std::uint32_t sum = 0;
    for (std::size_t i = 14; i < 34; i += 2)
        sum += std::uint32_t{f[i]} << 8 | f[i + 1];
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    CHECK(sum == 0xffff);
    Expectation e;
    e.vrid = 51;
    const auto decoded = decode(p->payload, p->length, p->source, p->destination, p->ttl, e);
    REQUIRE(std::holds_alternative<Message>(decoded));
    CHECK(std::get<Message>(decoded).priority == 150);

    const auto g = gratuitous_arp_frame(virtual_mac(51), 0xc6336464);
    CHECK(g[12] == 0x08);
    CHECK(g[13] == 0x06);
    CHECK(g[21] == 1);                                                 // request
    CHECK(std::equal(g.begin() + 28, g.begin() + 32, g.begin() + 38)); // sender = target
    CHECK(!received_packet(f.data(), 30));
}

TEST_CASE("Two routers: the higher priority becomes master, the other learns it and takes over "
          "when it falls silent") {
    Node a(node("198.51.100.2", instance("v", 1, 200)));
    Node b(node("198.51.100.3", instance("v", 1, 100)));
    Link link{{&a, &b}};
    link.start();
    link.run(400ms); // a's master-down interval: 3 x 100 + 21 ms
    CHECK(a.state() == State::master);
    CHECK(b.state() == State::backup);
    CHECK(b.router->status()[0].master == 0xc6336402);
    CHECK(a.gratuitous_arps == 5); // garp.repeat per address
    link.run(2s);
    CHECK(b.state() == State::backup);
    CHECK(b.router->status()[0].adverts_received >= 19);

    // a's last advertisement was less than 100 ms ago; b waits 3 x 100 + 60 ms from it.
    a.alive = false;
    link.run(250ms);
    CHECK(b.state() == State::backup);
    link.run(111ms);
    CHECK(b.state() == State::master);
    REQUIRE(!b.transitions.empty());
    CHECK(b.transitions.back().reason.find("no advertisement for 360 ms") != std::string::npos);

    // a returns and preempts; then it stops cleanly, and b says so (issue 10, item 3: it said
    // "no advertisement for N ms (master down)" after a priority-0 advertisement).
    a.alive = true;
    link.run(500ms);
    REQUIRE(a.state() == State::master);
    a.router->shutdown(link.now);
    link.deliver();
    link.run(100ms); // b's skew time: (256 - 100) / 256 x 100 ms
    CHECK(b.state() == State::master);
    CHECK(b.router->status()[0].reason ==
          "master 198.51.100.2 released (priority 0 advertisement)");
}

TEST_CASE("Tracking: a weight that drops the master below its peer hands the VIP over; FAULT "
          "gives it up at once") {
    Node a(node("198.51.100.2", instance("v", 1, 100)));
    Node b(node("198.51.100.3", instance("v", 1, 80)));
    Link link{{&a, &b}};
    link.start();
    link.run(500ms);
    REQUIRE(a.state() == State::master);
    a.router->set_tracking(0, false, -60, "service 'web' below quorum (weight -60)", link.now);
    CHECK(a.router->status()[0].priority == 40);
    link.run(500ms); // b (preempt) lets its timer run out on a's priority-40 advertisements
    CHECK(b.state() == State::master);
    CHECK(a.state() == State::backup);
    a.router->set_tracking(0, false, 0, "", link.now);
    link.run(500ms);
    CHECK(a.state() == State::master);
    CHECK(b.state() == State::backup);

    a.router->set_tracking(0, true, 0, "interface 'ext' link down", link.now);
    CHECK(a.state() == State::fault);
    link.run(300ms); // a's priority-0 advertisement: b after its skew time only
    CHECK(b.state() == State::master);
    a.router->set_tracking(0, false, 0, "", link.now);
    CHECK(a.state() == State::backup);
    link.run(500ms);
    CHECK(a.state() == State::master);
}

TEST_CASE("Sync group: members follow each other into MASTER, BACKUP and FAULT") {
    const std::string group = "  sync_groups:\n    - {name: edge, instances: [out, in]}\n";
    Node a(node("198.51.100.2", instance("out", 1, 200) + instance("in", 2, 200), group));
    Node b(node("198.51.100.3", instance("out", 1, 100) + instance("in", 2, 100), group));
    Link link{{&a, &b}};
    link.start();
    link.run(500ms);
    CHECK((a.state(0) == State::master && a.state(1) == State::master));
    CHECK((b.state(0) == State::backup && b.state(1) == State::backup));
    // Only "in" fails on a: both of a's instances go, both of b's take over.
    a.router->set_tracking(1, true, 0, "interface 'int' link down", link.now);
    CHECK((a.state(0) == State::fault && a.state(1) == State::fault));
    link.run(200ms);
    CHECK((b.state(0) == State::master && b.state(1) == State::master));
    CHECK(b.router->status()[1].reason.find("sync group 'edge'") != std::string::npos);
    a.router->set_tracking(1, false, 0, "", link.now);
    link.run(600ms);
    CHECK((a.state(0) == State::master && a.state(1) == State::master));
    CHECK((b.state(0) == State::backup && b.state(1) == State::backup));
}

TEST_CASE("Gratuitous ARPs: a batch on becoming master, a second after the delay, and refreshes") {
    Node a(node("198.51.100.2", instance("v", 1, 200,
                                         "      garp: {repeat: 3, delay: 1s, refresh: 2s, "
                                         "refresh_repeat: 2}\n")));
    Link link{{&a}};
    link.start();
    link.run(400ms);
    REQUIRE(a.state() == State::master);
    CHECK(a.gratuitous_arps == 3);
    link.run(1s);
    CHECK(a.gratuitous_arps == 6);
    link.run(1s);
    CHECK(a.gratuitous_arps == 8); // the refresh, 2 s after the transition
    link.run(2s);
    CHECK(a.gratuitous_arps == 10);
}

TEST_CASE("Tracking verdicts: services below quorum, links, scripts, weights") {
    const auto config = lb::test::config_from(node(
        "198.51.100.2",
        instance("v", 1, 100,
                 "      track:\n        - {service: web, weight: -30}\n        - {interface: ext}\n"
                 "        - {script: s, weight: 10}\n"),
        "  scripts:\n    - {name: s, command: 'true'}\n"));
    const auto& v = config.vrrp.instances[0];
    lb::control::health::DownSet down;
    auto up = [](const std::string&) { return true; };
    auto verdict = evaluate_tracking(v, config, down, up, up);
    CHECK((!verdict.fault && verdict.delta == 10 && verdict.reason.empty()));
    down.insert({"web", 0xc6336415, 0}); // one of two down: quorum 1 still met
    CHECK(evaluate_tracking(v, config, down, up, up).delta == 10);
    down.insert({"web", 0xc6336416, 0});
    verdict = evaluate_tracking(v, config, down, up, up);
    CHECK((!verdict.fault && verdict.delta == -20));
    CHECK(verdict.reason == "service 'web' below quorum (weight -30)");
    auto down_link = [](const std::string&) { return false; };
    verdict = evaluate_tracking(v, config, down, down_link, down_link);
    CHECK(verdict.fault);
    CHECK(verdict.delta == -30);
    CHECK(verdict.reason.find("interface 'ext' link down") != std::string::npos);
}

namespace {

// The VRID an advertisement frame carries (Ethernet 14, IPv4 20, then version/type, VRID).
int vrid_of(const std::vector<std::uint8_t>& frame) {
    return frame.size() > 35 && frame[12] == 0x08 && frame[13] == 0x00 ? frame[35] : -1;
}

std::uint64_t transitions(const Node& n) {
    std::uint64_t total = 0;
    for (const auto& s : n.router->status())
        total += s.transitions;
    return total;
}

// A Link that loses the advertisements `lost(from, to, vrid)` picks (none by default).
struct LossyLink : Link {
    explicit LossyLink(std::vector<Node*> n) : Link{std::move(n)} {}
    std::function<bool(const Node*, const Node*, int)> lost = [](auto, auto, int) { return false; };

    void run(std::chrono::milliseconds duration) {
        for (auto end = now + duration; now < end; now += 1ms) {
            for (auto* n : nodes)
                n->router->tick(now);
            for (auto* from : nodes) {
                auto frames = std::move(from->outbox);
                from->outbox.clear();
                for (auto& f : frames)
                    for (auto* to : nodes)
                        if (to != from && vrid_of(f) >= 0 && !lost(from, to, vrid_of(f)))
                            to->router->receive(0, f.data(), f.size(), now);
            }
        }
    }
    // Transitions of every node while it runs for `duration`.
    std::uint64_t transitions_during(std::chrono::milliseconds duration) {
        std::uint64_t before = 0, after = 0;
        for (auto* n : nodes)
            before += transitions(*n);
        run(duration);
        for (auto* n : nodes)
            after += transitions(*n);
        return after - before;
    }
};

const std::string edge_group = "  sync_groups:\n    - {name: edge, instances: [out, in]}\n";

// Two nodes each with the "edge" group (out VRID 1, in VRID 2) at `priority`.
std::string edge_node(const std::string& address, int priority) {
    return node(address, instance("out", 1, priority) + instance("in", 2, priority), edge_group);
}

} // namespace

TEST_CASE("Sync group: adverts lost for one member only leave one stable master, reported") {
    // Issue 10, item 1: b's "out" hears nothing from a while "in" still hears a; before, b
    // pulled its group to MASTER and back every ~360 ms (16 transitions in 3 s).
    Node a(edge_node("198.51.100.2", 200));
    Node b(edge_node("198.51.100.3", 100));
    LossyLink link({&a, &b});
    link.start();
    link.run(500ms);
    REQUIRE((a.state(0) == State::master && a.state(1) == State::master));
    link.lost = [&](const Node* from, const Node* to, int vrid) {
        return from == &a && to == &b && vrid == 1;
    };
    const auto flaps = link.transitions_during(3s);
    WARN("transitions in 3 s with out's adverts lost on b: " << flaps);
    CHECK(flaps == 0);
    CHECK((a.state(0) == State::master && a.state(1) == State::master));
    CHECK((b.state(0) == State::backup && b.state(1) == State::backup));
    const auto& held = b.router->status()[0].sync_held;
    CHECK(held.find("sync group 'edge' holds it in BACKUP") != std::string::npos);
    CHECK(held.find("'in' hears a master") != std::string::npos);
    CHECK(b.router->status()[1].sync_held.empty());
    // Healed: the wish is withdrawn at the next advertisement.
    link.lost = [](const Node*, const Node*, int) { return false; };
    link.run(300ms);
    CHECK(b.router->status()[0].sync_held.empty());
    // And a master that really goes: b's group takes over as a whole.
    link.lost = [&](const Node* from, const Node*, int) { return from == &a; };
    link.run(500ms);
    CHECK((b.state(0) == State::master && b.state(1) == State::master));
    CHECK(b.router->status()[1].reason.find("sync group 'edge': every member would be MASTER") !=
          std::string::npos);
}

TEST_CASE("Sync group: a higher-priority master on only one VRID of the group does not thrash") {
    // Issue 10, item 1: c is master of "out" only, above a; before, a's group went MASTER and
    // back 34-36 times in 3 s.
    Node a(edge_node("198.51.100.2", 200));
    Node b(edge_node("198.51.100.3", 100));
    Node c(node("198.51.100.4", instance("out", 1, 250)));
    LossyLink link({&a, &b});
    link.start();
    link.run(500ms);
    REQUIRE((a.state(0) == State::master && a.state(1) == State::master));
    link.nodes.push_back(&c);
    c.router->start(link.now);
    link.run(1s); // c takes "out"; a's group follows out into BACKUP
    const auto flaps = link.transitions_during(3s);
    WARN("transitions in 3 s with a higher-priority master on one VRID: " << flaps);
    CHECK(flaps == 0);
    CHECK(c.state(0) == State::master);
    CHECK((a.state(0) == State::backup && a.state(1) == State::backup));
    CHECK((b.state(0) == State::backup && b.state(1) == State::backup));
    CHECK(a.router->status()[1].sync_held.find("'out' hears a master") != std::string::npos);
}

TEST_CASE("Reload: a MASTER whose priority drops stays MASTER and advertises it; the preempting "
          "backup takes over by election, with no flap on the unchanged instance") {
    Node a(node("198.51.100.2", instance("v", 1, 200) + instance("w", 2, 200)));
    Node b(node("198.51.100.3", instance("v", 1, 100) + instance("w", 2, 100)));
    Link link{{&a, &b}};
    link.start();
    link.run(500ms);
    REQUIRE(a.state(0) == State::master);
    REQUIRE(a.state(1) == State::master);
    const auto transitions = a.transitions.size();
    const auto arps = a.gratuitous_arps;

    // Priority 200 -> 150 on v: still above b, still MASTER, advertising 150 at once.
    a.config =
        lb::test::config_from(node("198.51.100.2", instance("v", 1, 150) + instance("w", 2, 200)));
    a.router->reconfigure(a.config, {0, 1}, link.now);
    CHECK(a.state(0) == State::master);
    CHECK(a.router->status()[0].priority == 150);
    CHECK(a.router->status()[0].configured_priority == 150);
    CHECK(!a.outbox.empty()); // the advertisement with the new priority
    link.run(1s);
    CHECK(a.transitions.size() == transitions);
    CHECK(a.gratuitous_arps == arps);

    // b's v rises above a's: b preempts by the normal election; w never moves.
    b.config =
        lb::test::config_from(node("198.51.100.3", instance("v", 1, 180) + instance("w", 2, 100)));
    b.router->reconfigure(b.config, {0, 1}, link.now);
    link.run(500ms);
    CHECK(b.state(0) == State::master);
    CHECK(a.state(0) == State::backup);
    CHECK(a.state(1) == State::master);
    CHECK(b.state(1) == State::backup);
    for (std::size_t k = transitions; k < a.transitions.size(); ++k)
        CHECK(a.transitions[k].instance == 0);
}

TEST_CASE("Reload: instances added and removed; a new interface or virtual router id is a new "
          "instance; the transitions carry the settings and slots") {
    Node a(node("198.51.100.2", instance("v", 1, 200) + instance("w", 2, 200)));
    Link link{{&a}};
    link.start();
    link.run(500ms);
    REQUIRE(a.state(1) == State::master);
    a.transitions.clear();
    a.settings.clear();

    // w removed, x added (vrid 3), v's vrid changed to 4: v and w stop, v and x start.
    a.config =
        lb::test::config_from(node("198.51.100.2", instance("x", 3, 100) + instance("v", 4, 200)));
    a.router->reconfigure(a.config, {5, 6}, link.now);
    REQUIRE(a.router->status().size() == 2);
    CHECK(a.router->status()[0].name == "x");
    CHECK(a.router->status()[1].vrid == 4);
    int stopped = 0;
    for (std::size_t k = 0; k < a.transitions.size(); ++k)
        if (a.transitions[k].to == State::initialize) {
            ++stopped;
            CHECK((a.settings[k].name == "v" || a.settings[k].name == "w"));
            CHECK(a.transitions[k].from == State::master);
        }
    CHECK(stopped == 2);
    link.run(500ms);
    CHECK(a.state(0) == State::master);
    CHECK(a.state(1) == State::master);
    CHECK(a.transitions.back().slot == 5 + a.transitions.back().instance);
}

TEST_CASE("Reload: tracking weights and notify hooks take effect; garp refresh restarts") {
    const std::string track = "      track:\n        - {interface: ext, weight: -10}\n";
    Node a(node("198.51.100.2", instance("v", 1, 200, track)));
    Link link{{&a}};
    link.start();
    link.run(500ms);
    a.router->set_tracking(0, false, -10, "interface 'ext' link down (weight -10)", link.now);
    CHECK(a.router->status()[0].priority == 190);
    // The configured priority changes; the tracking delta in force carries over.
    a.config = lb::test::config_from(
        node("198.51.100.2", instance("v", 1, 220,
                                      track + "      notify: {backup: /bin/true}\n      garp: "
                                              "{refresh: 1s}\n")));
    a.router->reconfigure(a.config, {}, link.now);
    CHECK(a.router->status()[0].priority == 210);
    const auto arps = a.gratuitous_arps;
    link.run(1100ms);
    CHECK(a.gratuitous_arps > arps); // the refresh now runs
    a.router->shutdown(link.now);
    CHECK(a.settings.back().notify.backup == "/bin/true");
}

namespace {

const std::string not_in_sync = "session table not in sync with the peer: receiving bulk";

Link alone_for_500ms(Node& first) {
    Link link{{&first}};
    link.start();
    link.run(500ms);
    return link;
}

// `first` alone until it is master, then `held` joins with the preemption hold set: a node
// that restarts beside a running master. (Started together, `held` would become master: with
// no master to wait for, the hold does not keep it out.)
Link master_then_held(Node& first, Node& held) {
    Link link = alone_for_500ms(first);
    link.nodes.push_back(&held);
    held.router->hold_preemption(not_in_sync);
    held.router->start(link.now);
    return link;
}

} // namespace

TEST_CASE("Preemption hold: a held node starting with a higher priority leaves the running "
          "master alone and says why; it takes over when that master falls silent") {
    Node a(node("198.51.100.2", instance("v", 1, 100)));
    Node b(node("198.51.100.3", instance("v", 1, 200)));
    Link link = master_then_held(a, b);
    REQUIRE(a.state() == State::master);
    for (int k = 0; k < 20; ++k) { // as replication does: the same hold, tick after tick
        link.run(100ms);
        b.router->hold_preemption(not_in_sync);
    }
    CHECK(a.state() == State::master);
    CHECK(b.state() == State::backup);
    CHECK(b.transitions.size() == 1); // start-up only
    CHECK(b.router->preemption_hold() == not_in_sync);
    CHECK(b.router->status()[0].preemption_held == not_in_sync);
    CHECK(b.router->status()[0].master == 0xc6336402);
    CHECK(a.router->status()[0].preemption_held.empty());

    // a's last advertisement was less than 100 ms ago; b waits 3 x 100 + 21 ms from it.
    a.alive = false;
    link.run(220ms);
    CHECK(b.state() == State::backup);
    link.run(200ms);
    CHECK(b.state() == State::master);
    CHECK(b.router->status()[0].reason.find("no advertisement for 321 ms") != std::string::npos);
    CHECK(b.router->status()[0].preemption_held.empty());
    // A MASTER stays MASTER while held: a returns below it and steps down.
    a.alive = true;
    link.run(500ms);
    CHECK(b.state() == State::master);
    CHECK(a.state() == State::backup);
}

TEST_CASE("Preemption hold: released, the held node preempts at the master's next "
          "advertisement; the report clears") {
    Node a(node("198.51.100.2", instance("v", 1, 100)));
    Node b(node("198.51.100.3", instance("v", 1, 200)));
    Link link = master_then_held(a, b);
    link.run(2s);
    REQUIRE(a.state() == State::master);
    REQUIRE(b.state() == State::backup);
    REQUIRE(b.router->status()[0].preemption_held == not_in_sync);

    b.router->hold_preemption(std::nullopt);
    CHECK(!b.router->preemption_hold());
    CHECK(b.router->status()[0].preemption_held.empty());
    link.run(101ms); // a advertises every 100 ms
    CHECK(b.state() == State::master);
    CHECK(a.state() == State::backup);
    CHECK(b.router->status()[0].reason.find("preemption no longer held: master 198.51.100.2 "
                                            "advertises priority 100") != std::string::npos);
}

TEST_CASE("Preemption hold: set while a node is already preempting, it stops; a MASTER and "
          "instances a reload adds are held too") {
    Node a(node("198.51.100.2", instance("v", 1, 100)));
    Node b(node("198.51.100.3", instance("v", 1, 200)));
    Link link{{&a}};
    link.start();
    link.run(500ms);
    link.nodes.push_back(&b);
    b.router->start(link.now);
    link.run(250ms); // b discards a's advertisements: its timer runs out at 321 ms
    REQUIRE(b.state() == State::backup);
    b.router->hold_preemption(not_in_sync);
    link.run(2s);
    CHECK(b.state() == State::backup);
    CHECK(a.state() == State::master);
    CHECK(b.router->status()[0].preemption_held == not_in_sync);

    // The master held: nothing changes for it; a new instance on b starts held.
    a.router->hold_preemption("a's reason");
    b.config =
        lb::test::config_from(node("198.51.100.3", instance("v", 1, 200) + instance("w", 2, 200)));
    a.config =
        lb::test::config_from(node("198.51.100.2", instance("v", 1, 100) + instance("w", 2, 100)));
    a.router->reconfigure(a.config, {0, 1}, link.now);
    link.run(1s); // a's w: alone, MASTER after its master-down interval
    REQUIRE(a.state(1) == State::master);
    b.router->reconfigure(b.config, {0, 1}, link.now);
    link.run(2s);
    CHECK((a.state(0) == State::master && a.state(1) == State::master));
    CHECK((b.state(0) == State::backup && b.state(1) == State::backup));
    CHECK(b.router->status()[1].preemption_held == not_in_sync);
    CHECK(a.router->status()[0].preemption_held.empty());
    // Released: both of b's instances preempt.
    b.router->hold_preemption(std::nullopt);
    link.run(101ms);
    CHECK((b.state(0) == State::master && b.state(1) == State::master));
}

TEST_CASE("Preemption hold: a sync group held back preempts as a whole once released") {
    Node a(edge_node("198.51.100.2", 100));
    Node b(edge_node("198.51.100.3", 200));
    Link link = master_then_held(a, b);
    link.run(2s);
    REQUIRE((a.state(0) == State::master && a.state(1) == State::master));
    CHECK((b.state(0) == State::backup && b.state(1) == State::backup));
    CHECK(b.router->status()[0].preemption_held == not_in_sync);
    CHECK(b.router->status()[0].sync_held.empty());
    b.router->hold_preemption(std::nullopt);
    link.run(101ms);
    CHECK((b.state(0) == State::master && b.state(1) == State::master));
    CHECK((a.state(0) == State::backup && a.state(1) == State::backup));
}

TEST_CASE("Preemption hold: a held node whose link comes up after start-up does not take the "
          "silence before it for a master down") {
    Node a(node("198.51.100.2", instance("v", 1, 100)));
    Node b(node("198.51.100.3", instance("v", 1, 200)));
    Link link = alone_for_500ms(a);
    REQUIRE(a.state() == State::master);
    // b restarts while its link still negotiates: nothing reaches it for a second.
    link.nodes.push_back(&b);
    b.hears = false;
    b.router->set_listening(0, false, link.now);
    b.router->hold_preemption(not_in_sync);
    b.router->start(link.now);
    CHECK_FALSE(b.router->status()[0].listening);
    link.run(1000ms);
    CHECK(b.state() == State::backup);
    b.hears = true;
    b.router->set_listening(0, true, link.now);
    CHECK(b.router->status()[0].listening);
    link.run(1000ms);
    // The hold keeps it under the running master, which it now hears.
    CHECK(a.state() == State::master);
    CHECK(b.state() == State::backup);
    CHECK(b.transitions.size() == 1); // start-up only
    CHECK(b.router->status()[0].preemption_held == not_in_sync);
    // Silence it can hear still counts: a master that dies is taken over.
    a.alive = false;
    link.run(400ms);
    CHECK(b.state() == State::master);
}

TEST_CASE("Listening: an instance a reload adds follows its interface's link") {
    const std::string one = instance("v", 1, 100);
    Node a(node("198.51.100.2", one));
    Link link{{&a}};
    a.router->set_listening(0, false, link.now);
    link.start();
    link.run(1000ms);
    CHECK(a.state(0) == State::backup);
    const auto next = lb::test::config_from(node("198.51.100.2", one + instance("w", 2, 100)));
    a.router->reconfigure(next, {}, link.now);
    link.run(1000ms);
    CHECK(a.state(1) == State::backup);
    CHECK_FALSE(a.router->status()[1].listening);
    a.router->set_listening(0, true, link.now);
    link.run(400ms);
    CHECK(a.state(0) == State::master);
    CHECK(a.state(1) == State::master);
}
