// What the control loop does with every feature module at once (lb/module_set), with fake
// modules that write what they are asked into one transcript: build and start order, a reload
// that brings a section, the preemption hold, lbctl routing, and the stop in reverse order that
// waits for each module's `done` (as BGP's drain does before VRRP resigns).
#include <catch2/catch.hpp>

#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "lb/module_set.hpp"

using lb::app::AdminRequest;
using lb::app::Module;
using lb::app::ModuleKind;
using lb::app::ModuleSet;

namespace {

// Which fake modules the "configuration" asks for: ModuleKind::configured is a plain function.
std::set<std::string> wanted;

struct Transcript {
    std::vector<std::string> lines;
    std::vector<std::function<void()>> pending_stops; // a module's `done`, when it waits
    bool hold_stops = false;
};

class FakeModule final : public Module {
  public:
    FakeModule(const char* name, Transcript& t) : name_(name), t_(t) { say("built"); }
    const char* name() const override { return name_; }
    void start() override { say("start"); }
    void on_reload_applied(const lb::control::config::ReloadReads& reads) override {
        say(reads.replication_keys
                ? "reload keys " + std::to_string(reads.replication_keys->current.size())
                : std::string("reload"));
    }
    void on_health_change() override { say("health"); }
    void tick() override { say("tick"); }
    void report() override { say("report"); }
    void hold_preemption(const std::optional<std::string>& r) override {
        say("hold " + r.value_or("none"));
    }
    std::optional<lb::control::AdminAnswer> answer(const AdminRequest& request) override {
        if (!request.args.empty() && request.args[0] == name_)
            return lb::control::AdminAnswer{true, std::string("answered by ") + name_};
        return std::nullopt;
    }
    void shutdown(std::function<void()> done) override {
        say("stop");
        if (t_.hold_stops)
            t_.pending_stops.push_back(std::move(done));
        else
            done();
    }

  private:
    void say(const std::string& what) { t_.lines.push_back(std::string(name_) + " " + what); }
    const char* name_;
    Transcript& t_;
};

bool wants(const char* name) {
    return wanted.count(name) > 0;
}

// In start order, as lb/module_list.cpp: "first" cannot start on a reload (as replication).
const std::vector<ModuleKind> kinds{
    {"first", [](const lb::control::config::Config&) { return wants("first"); }, nullptr, false,
     nullptr, nullptr, false},
    {"second", [](const lb::control::config::Config&) { return wants("second"); }, nullptr, true,
     nullptr, nullptr, false},
    {"third", [](const lb::control::config::Config&) { return wants("third"); }, nullptr, true,
     nullptr, nullptr, false},
};

struct Fixture {
    Transcript t;
    std::vector<std::string> logged;
    std::set<std::string> failing; // kinds whose construction throws
    lb::control::config::Config config;
    ModuleSet set{kinds,
                  [this](const ModuleKind& kind) -> std::unique_ptr<Module> {
                      if (failing.count(kind.name))
                          throw std::runtime_error("cannot bind the socket");
                      return std::make_unique<FakeModule>(kind.name, t);
                  },
                  [this](const std::string& line) { logged.push_back(line); }};

    std::vector<std::string> take() { return std::exchange(t.lines, {}); }
};

using Lines = std::vector<std::string>;

} // namespace

TEST_CASE("module set: the configured modules are built, then started, in list order") {
    Fixture f;
    wanted = {"third", "first"};
    f.set.build(f.config);
    CHECK(f.take() == Lines{"first built", "first hold none", "third built", "third hold none"});
    f.set.start();
    CHECK(f.take() == Lines{"first start", "third start"});
    CHECK(f.set.running() == Lines{"first", "third"});
    f.set.tick();
    f.set.report();
    f.set.on_health_change();
    lb::control::config::ReloadReads reads;
    reads.replication_keys = lb::control::config::ReplicationKeys{{1, 2, 3}, {}};
    f.set.on_reload_applied(f.config, reads);
    CHECK(f.take() == Lines{"first tick", "third tick", "first report", "third report",
                            "first health", "third health", "first reload keys 3",
                            "third reload keys 3"});
}

TEST_CASE("module set: a reload brings a section: its module starts, unless it must wait") {
    Fixture f;
    wanted = {"second"};
    f.set.build(f.config);
    f.set.start();
    f.take();
    wanted = {"first", "second", "third"};
    f.set.on_reload_applied(f.config, {});
    // The running module follows the reload first; "first" waits for a restart.
    CHECK(f.take() == Lines{"second reload", "third built", "third hold none", "third start"});
    CHECK(f.set.running() == Lines{"second", "third"});
    // Once running, a module is not built again by the next reload.
    f.set.on_reload_applied(f.config, {});
    CHECK(f.take() == Lines{"second reload", "third reload"});
}

TEST_CASE("module set: a module a reload cannot start is logged, the others go on") {
    Fixture f;
    wanted = {"second"};
    f.set.build(f.config);
    f.take();
    wanted = {"second", "third"};
    f.failing = {"third"};
    f.set.on_reload_applied(f.config, {});
    CHECK(f.take() == Lines{"second reload"});
    CHECK(f.logged == Lines{"warning: reload: third not started: cannot bind the socket"});
    CHECK(f.set.running() == Lines{"second"});
    f.failing.clear();
    f.set.on_reload_applied(f.config, {}); // the next reload tries again
    CHECK(f.set.running() == Lines{"second", "third"});
}

TEST_CASE("module set: a module that cannot be built at start stops lb's start") {
    Fixture f;
    wanted = {"first"};
    f.failing = {"first"};
    CHECK_THROWS_WITH(f.set.build(f.config), "cannot bind the socket");
}

TEST_CASE("module set: the preemption hold reaches every module, and those built later") {
    Fixture f;
    wanted = {"first"};
    f.set.build(f.config);
    f.take();
    f.set.hold_preemption("replication not in sync");
    CHECK(f.take() == Lines{"first hold replication not in sync"});
    wanted = {"first", "second"};
    f.set.on_reload_applied(f.config, {});
    CHECK(f.take() == Lines{"first reload", "second built", "second hold replication not in sync",
                            "second start"});
    f.set.hold_preemption(std::nullopt);
    CHECK(f.take() == Lines{"first hold none", "second hold none"});
}

TEST_CASE("module set: an lbctl request goes to the first module that answers it") {
    Fixture f;
    wanted = {"first", "second", "third"};
    f.set.build(f.config);
    AdminRequest r;
    r.args = {"third"};
    auto a = f.set.answer(r);
    REQUIRE(a);
    CHECK(a->body == "answered by third");
    r.args = {"nobody"};
    CHECK_FALSE(f.set.answer(r));
}

TEST_CASE("module set: the stop goes in reverse order, each after the later one is done") {
    Fixture f;
    wanted = {"first", "second", "third"};
    f.set.build(f.config);
    f.set.start();
    f.take();
    f.t.hold_stops = true;
    bool stopped = false;
    f.set.shutdown([&] { stopped = true; });
    // "third" (say BGP, draining) has not said it is done: nobody else stops yet.
    CHECK(f.take() == Lines{"third stop"});
    REQUIRE(f.t.pending_stops.size() == 1);
    std::exchange(f.t.pending_stops, {})[0]();
    CHECK(f.take() == Lines{"second stop"});
    std::exchange(f.t.pending_stops, {})[0]();
    CHECK(f.take() == Lines{"first stop"});
    CHECK_FALSE(stopped);
    std::exchange(f.t.pending_stops, {})[0]();
    CHECK(stopped);
}

TEST_CASE("module set: with no module, the stop is done at once") {
    Fixture f;
    wanted = {};
    f.set.build(f.config);
    bool stopped = false;
    f.set.shutdown([&] { stopped = true; });
    CHECK(stopped);
}
