// BGP announcement (issue 14): the `bgp` section's errors at their place, the announcement rule
// (quorum, drain, `announce`), the BIRD configuration lb writes, and BIRD's replies.
#include <catch2/catch.hpp>

#include <string>

#include "control/config/loader.hpp"
#include "lb/admin_request.hpp"
#include "modules/bgp/announcement.hpp"
#include "modules/bgp/bird_config.hpp"
#include "modules/bgp/bird_reply.hpp"
#include "test/test_config.hpp"
#include "test/unit/expect_config_error.hpp"

using namespace lb::control;
using lb::test::expect_error;

namespace {

// Lines 1-9; the bgp section starts on line 10.
const std::string base = R"(node: {name: test}
interfaces:
  - {name: ext, device: d0, address: 198.51.100.2/24}
  - {name: int, device: d1, address: 203.0.113.1/24, kernel: false}
services:
  - {name: web, vip: 192.0.2.100, port: 80, forwarding: dr, scheduler: mh, quorum: 2,
     real_servers: [{address: 198.51.100.21}, {address: 198.51.100.22}]}
  - {name: dns, vip: 192.0.2.101, port: 53, protocol: udp, forwarding: dr,
     real_servers: [{address: 198.51.100.21}]}
)";

std::string with_bgp(const std::string& body) {
    return base + "bgp:\n" + body;
}

const std::string good = "  local_as: 65001\n"
                         "  neighbors: [{address: 198.51.100.1, as: 65000, bfd: true}]\n";

} // namespace

TEST_CASE("bgp: a complete section loads with its defaults", "[bgp]") {
    const auto c = lb::test::config_from(with_bgp(good));
    REQUIRE(c.bgp);
    CHECK(c.bgp->local_as == 65001);
    CHECK(c.bgp->announce_all);
    CHECK(c.bgp->socket == "/run/bird/bird.ctl");
    CHECK(c.bgp->config == "/run/lb/bird.conf");
    CHECK(c.bgp->drain_timeout == config::Milliseconds{30'000});
    CHECK(c.bgp->drain_state_file == "/var/lib/lb/node-drained");
    REQUIRE(c.bgp->neighbors.size() == 1);
    CHECK(c.bgp->neighbors[0].bfd);
    CHECK(bgp::router_id(c) == 0xc6336402u); // the first interface's address
}

TEST_CASE("bgp: every mistake is named at its place", "[bgp]") {
    SECTION("an unknown service in announce") {
        expect_error(with_bgp(good + "  announce: [web, mail]\n"), 13, 19,
                     "announce: no service named 'mail'");
    }
    SECTION("a neighbor on no interface's subnet") {
        expect_error(with_bgp("  local_as: 65001\n  neighbors: [{address: 192.0.2.1, as: 1}]\n"),
                     12, 25, "neighbor 192.0.2.1 is not on any interface's subnet");
    }
    SECTION("a neighbor behind an interface without the kernel path") {
        expect_error(with_bgp("  local_as: 65001\n  neighbors: [{address: 203.0.113.9, as: 1}]\n"),
                     12, 25, "no kernel exception path");
    }
    SECTION("an AS out of range") {
        expect_error(with_bgp("  local_as: 4294967295\n  neighbors: [{address: 198.51.100.1, as: "
                              "65000}]\n"),
                     11, 13, "not an AS number");
    }
    SECTION("another daemon") {
        expect_error(with_bgp(good + "  daemon: frr\n"), 13, 11, "only bird");
    }
    SECTION("a relative path") {
        expect_error(with_bgp(good + "  config: bird.conf\n"), 13, 11, "absolute path");
    }
    SECTION("a relative drain_state_file") {
        expect_error(with_bgp(good + "  drain_state_file: node-drained\n"), 13, 21,
                     "drain_state_file: needs an absolute path");
    }
    SECTION("a drain_state_file that names a folder") {
        expect_error(with_bgp(good + "  drain_state_file: /var/lib/lb/\n"), 13, 21,
                     "names a folder");
    }
    SECTION("a drain_state_file shared with another file lb keeps") {
        expect_error(with_bgp(good + "  config: /run/lb/x.conf\n  drain_state_file: "
                                     "/run/lb/./x.conf\n"),
                     14, 21, "drain_state_file: '/run/lb/./x.conf' is also bgp.config");
    }
    SECTION("no neighbors") {
        expect_error(with_bgp("  local_as: 65001\n  neighbors: []\n"), 12, 14,
                     "neighbors must be a non-empty list");
    }
    SECTION("an unknown key") {
        expect_error(with_bgp(good + "  peers: []\n"), 13, 3, "unknown key 'peers' in bgp");
    }
}

namespace {

health::HealthStatus status(const std::string& service, std::uint32_t address, bool checked) {
    health::HealthStatus s;
    s.server = {service, address, 0};
    s.checked = checked;
    return s;
}

} // namespace

TEST_CASE("bgp: a VIP is announced while its services are at quorum, and not when drained",
          "[bgp]") {
    const auto c = lb::test::config_from(with_bgp(good));
    const std::uint32_t rs1 = 0xc6336415, rs2 = 0xc6336416;
    auto all = bgp::decide_announcements(c, {}, {}, false);
    REQUIRE(all.size() == 2);
    CHECK(all[0].announce);
    CHECK(all[1].announce);

    // One of web's two servers down: below its quorum of 2; dns stays.
    const health::DownSet down{{"web", rs1, 0}};
    auto below = bgp::decide_announcements(c, down, {}, false);
    CHECK_FALSE(below[0].announce);
    CHECK_THAT(below[0].reason, Catch::Contains("service 'web' below quorum (1 of 2"));
    CHECK(below[1].announce);

    // A first check still running does not count as up.
    auto pending = bgp::decide_announcements(c, {}, {status("web", rs2, false)}, false);
    CHECK_FALSE(pending[0].announce);

    auto drained = bgp::decide_announcements(c, {}, {}, true);
    CHECK_FALSE(drained[0].announce);
    CHECK_FALSE(drained[1].announce);
    CHECK_THAT(drained[1].reason, Catch::Contains("drained"));

    const auto only_dns = lb::test::config_from(with_bgp(good + "  announce: [dns]\n"));
    auto listed = bgp::decide_announcements(only_dns, {}, {}, false);
    CHECK_FALSE(listed[0].announce);
    CHECK_THAT(listed[0].reason, Catch::Contains("no service on it is in bgp.announce"));
    CHECK(listed[1].announce);
}

TEST_CASE("bgp: the BIRD configuration announces exactly the VIPs given", "[bgp]") {
    const auto c = lb::test::config_from(with_bgp(good + "  bfd_interval: 100ms\n"));
    const std::string text = bgp::bird_config_text(c, {0xc0000264}); // 192.0.2.100
    CHECK_THAT(text, Catch::Contains("router id 198.51.100.2;"));
    CHECK_THAT(text, Catch::Contains("protocol bfd lb_bfd"));
    CHECK_THAT(text, Catch::Contains("interface \"lb-ext\""));
    CHECK_THAT(text, Catch::Contains("min rx interval 100 ms;"));
    CHECK_THAT(text, Catch::Contains("protocol bgp lb_peer1"));
    CHECK_THAT(text, Catch::Contains("local 198.51.100.2 as 65001;"));
    CHECK_THAT(text, Catch::Contains("neighbor 198.51.100.1 as 65000;"));
    CHECK_THAT(text, Catch::Contains("bfd on;"));
    CHECK_THAT(text, Catch::Contains("graceful restart off;"));
    CHECK_THAT(text, Catch::Contains("export where proto = \"lb_vips\";"));
    CHECK_THAT(text, Catch::Contains("route 192.0.2.100/32 blackhole;"));
    CHECK_THAT(text, !Catch::Contains("192.0.2.101"));
    const auto no_bfd = lb::test::config_from(
        with_bgp("  local_as: 65001\n  neighbors: [{address: 198.51.100.1, as: 65000}]\n"));
    CHECK_THAT(bgp::bird_config_text(no_bfd, {}), !Catch::Contains("protocol bfd"));
}

TEST_CASE("bgp: BIRD's replies are split and read", "[bgp]") {
    std::string buffer = "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from /x\n";
    auto greeting = bgp::take_bird_reply(buffer);
    REQUIRE(greeting);
    CHECK(greeting->code() == 1);
    CHECK_FALSE(bgp::take_bird_reply(buffer)); // incomplete
    buffer += "0003 Reconfigured\n";
    auto configured = bgp::take_bird_reply(buffer);
    REQUIRE(configured);
    CHECK(bgp::configure_succeeded(*configured));
    CHECK(buffer.empty());

    buffer = "8002 /x, line 3: syntax error\n";
    auto refused = bgp::take_bird_reply(buffer);
    REQUIRE(refused);
    CHECK(refused->error());
    CHECK_FALSE(bgp::configure_succeeded(*refused));

    buffer = "2002-Name       Proto      Table      State  Since         Info\n"
             "1002-device1    Device     ---        up     20:10:11.123  \n"
             " lb_peer1   BGP        ---        up     20:10:12.001  Established   \n"
             " lb_peer2   BGP        ---        start  20:10:12.001  Active        Socket: "
             "Connection refused\n"
             "+spontaneous\n"
             "0000 \n";
    auto protocols = bgp::take_bird_reply(buffer);
    REQUIRE(protocols);
    const auto rows = bgp::parse_show_protocols(*protocols);
    REQUIRE(rows.size() == 3);
    CHECK(rows[1].name == "lb_peer1");
    CHECK(rows[1].info == "Established");
    CHECK(rows[2].state == "start");
    CHECK(rows[2].info == "Active Socket: Connection refused");

    buffer = "1020-lb_bfd:\n"
             " IP address                Interface  State      Since         Interval  Timeout\n"
             " 198.51.100.1              lb-ext     Up         20:10:12.001    0.100    0.300\n"
             "0000 \n";
    auto bfd = bgp::take_bird_reply(buffer);
    REQUIRE(bfd);
    const auto sessions = bgp::parse_show_bfd_sessions(*bfd);
    REQUIRE(sessions.size() == 1);
    CHECK(sessions[0].address == "198.51.100.1");
    CHECK(sessions[0].state == "Up");

    std::string junk = "HTTP/1.1 400\n";
    CHECK_THROWS(bgp::take_bird_reply(junk));
    CHECK(bgp::configure_command("/run/lb/bird.conf") == "configure \"/run/lb/bird.conf\"\n");
    CHECK_THROWS(bgp::configure_command("/run/\"x"));
}

TEST_CASE("bgp: lbctl bgp and drain-node [--undo] parse, and nothing else does", "[bgp]") {
    const auto drain = lb::app::parse_admin_request({"drain-node"});
    REQUIRE(drain.request);
    CHECK(drain.request->is_module_command("drain-node"));
    CHECK(std::string(drain.request->module->module) == "bgp");
    CHECK(drain.request->changes_state());
    const auto undo = lb::app::parse_admin_request({"drain-node", "--undo"});
    REQUIRE(undo.request);
    CHECK(undo.request->line() == "drain-node --undo");
    const auto wrong = lb::app::parse_admin_request({"drain-node", "now"});
    REQUIRE_FALSE(wrong.request);
    CHECK_THAT(wrong.usage_error, Catch::Contains("unexpected 'now'"));
    const auto show = lb::app::parse_admin_request_line("--json bgp");
    REQUIRE(show.request);
    CHECK(show.request->is_module_command("bgp"));
    CHECK(show.request->module->view);
    CHECK(show.request->json);
    CHECK_FALSE(show.request->changes_state());
}
