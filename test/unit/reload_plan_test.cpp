#include <catch2/catch.hpp>

#include <string>

#include "control/config/loader.hpp"
#include "control/config/reload_plan.hpp"
#include "lb/journal_stderr.hpp"

using namespace lb;

namespace {

// A running configuration with {address}, {connections}, {weight} and {priority} to vary.
std::string configuration(const std::string& address = "198.51.100.2/24",
                          const std::string& connections = "100000",
                          const std::string& weight = "1", const std::string& priority = "100",
                          const std::string& comment = "") {
    return comment + R"(node: {name: lb-a}
dpdk: {eal_args: ["--no-pci"]}
interfaces:
  - {name: ext, device: d0, gateway: 198.51.100.1, address: )" +
           address + R"(}
  - {name: int, device: d1, address: 203.0.113.1/24}
tables:
  connections: )" +
           connections + R"(
services:
  - name: web
    vip: 198.51.100.100
    port: 80
    real_servers:
      - address: 203.0.113.11
        weight: )" +
           weight + R"(
      - address: 203.0.113.12
vrrp:
  instances:
    - name: outside
      interface: ext
      virtual_router_id: 51
      priority: )" +
           priority + R"(
      virtual_addresses: [198.51.100.100]
)";
}

control::config::Config load(const std::string& yaml) {
    auto r = control::config::load_config_text(yaml);
    REQUIRE(r.config);
    return std::move(*r.config);
}

control::config::ReloadPlan reload(const std::string& running, const std::string& next) {
    return control::config::plan_reload(load(next), load(running), "lb.yaml");
}

bool mentions(const control::config::ReloadPlan& plan, const std::string& text) {
    for (const auto& m : plan.messages)
        if (m.find(text) != std::string::npos)
            return true;
    return false;
}

} // namespace

TEST_CASE("a changed interface address needs a restart and keeps the running interfaces") {
    const auto plan = reload(configuration(), configuration("198.51.100.3/24"));
    REQUIRE(plan.next);
    CHECK(mentions(plan, "needs restart: interfaces"));
    CHECK(plan.messages.size() == 1);
    CHECK(plan.next->interfaces[0].address == 0xc6336402); // 198.51.100.2, the running one
}

TEST_CASE("a changed table size needs a restart and names tables") {
    const auto plan = reload(configuration(), configuration("198.51.100.2/24", "200000"));
    REQUIRE(plan.next);
    CHECK(mentions(plan, "needs restart: tables"));
    CHECK_FALSE(mentions(plan, "interfaces"));
    CHECK(plan.next->tables.connections == 100000);
}

TEST_CASE("a changed service weight is applied without a restart message") {
    const auto plan = reload(configuration(), configuration("198.51.100.2/24", "100000", "7"));
    REQUIRE(plan.next);
    CHECK(plan.messages.empty());
    CHECK(plan.next->services[0].real_servers[0].weight == 7);
}

TEST_CASE("a changed VRRP priority is applied") {
    const auto plan =
        reload(configuration(), configuration("198.51.100.2/24", "100000", "1", "150"));
    REQUIRE(plan.next);
    CHECK(plan.messages.empty());
    CHECK(plan.next->vrrp.instances[0].priority == 150);
}

TEST_CASE("equality compares values, not where they were written") {
    CHECK(load(configuration()) ==
          load(configuration("198.51.100.2/24", "100000", "1", "100", "# moved down a line\n\n")));
    auto a = load(configuration());
    auto b = a;
    b.vrrp.instances[0].notify.master = "/bin/true";
    CHECK_FALSE(a == b);
    b = a;
    b.vrrp.instances[0].garp.refresh = std::chrono::milliseconds(5000);
    CHECK_FALSE(a == b);
    CHECK(control::config::restart_only_changes(a, b).empty());
}

TEST_CASE("every restart-only key is named") {
    const auto a = load(configuration());
    auto b = a;
    b.node_name = "lb-b";
    b.admin.socket = "/run/other.sock";
    b.dpdk.workers = 2;
    b.stats.listen = "127.0.0.1:9100";
    b.stats.interval = std::chrono::milliseconds(5000); // applied
    CHECK(control::config::restart_only_changes(a, b) ==
          std::vector<std::string>{"node.name", "admin.socket", "dpdk", "stats.listen"});
}

TEST_CASE("a refused reload is logged one line per message, each a warning for the journal") {
    const std::string text = control::config::refused_reload_log(
        "reload (SIGHUP)", "/etc/lb/lb.yaml:3:1: unknown key 'bogus'\n"
                           "the running configuration is unchanged\n");
    CHECK(text == "lb: warning: reload (SIGHUP) refused: /etc/lb/lb.yaml:3:1: unknown key "
                  "'bogus'\n"
                  "lb: warning: reload (SIGHUP) refused: the running configuration is unchanged\n");
    // Priority 4 (LOG_WARNING) under the journal: `journalctl -p warning` shows every line.
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
        CHECK(app::log_priority(std::string_view(text).substr(start, nl - start)) == 4);
    // lbctl's answer may be JSON, on one line; a message without a newline is one line too.
    CHECK(control::config::refused_reload_log("lbctl reload",
                                              R"({"applied":false,"messages":["x"]})") ==
          "lb: warning: lbctl reload refused: {\"applied\":false,\"messages\":[\"x\"]}\n");
    CHECK(control::config::refused_reload_log("lbctl reload", "").empty());
}
