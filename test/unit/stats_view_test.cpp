// The one statistics view (control/stats_view): the workers' counters are summed once into it,
// and the stats document (control/stats_report) and the Prometheus families
// (lb/metric_families) rendered from it say the same numbers.
#include <catch2/catch.hpp>

#include <map>
#include <memory>
#include <stdexcept>

#include "control/report/stats_report.hpp"
#include "control/report/stats_view.hpp"
#include "dataplane/counters.hpp"
#include "dataplane/scheduler.hpp"
#include "lb/metric_families.hpp"
#include "lb/stats_table.hpp"
#include "modules/replication/admin_view.hpp"
#include "modules/vrrp/admin_view.hpp"

using namespace lb;
using control::Json;
using dataplane::DropReason;
using dataplane::WorkerCounters;

namespace {

constexpr std::uint32_t server_one = 0xCB00710B; // 203.0.113.11
constexpr std::uint32_t server_two = 0xCB00710C; // 203.0.113.12

control::config::Config two_servers() {
    control::config::Config c;
    c.node_name = "lb-test";
    control::config::Service web;
    web.name = "web";
    control::config::RealServer one;
    one.address = control::config::IpAddress::from_ipv4(server_one);
    one.port = 8080;
    one.weight = 3;
    control::config::RealServer two;
    two.address = control::config::IpAddress::from_ipv4(server_two);
    two.weight = 2;
    web.real_servers = {one, two};
    c.services = {web};
    return c;
}

// Service "web" with its two real servers numbered, and two workers' counters, still zero, to
// write as workers would.
struct TwoWorkers {
    control::config::Config config = two_servers();
    control::IdentityRegistry registry;
    std::uint16_t service = registry.service("web");
    std::uint16_t one = registry.real_server("web", server_one, 8080);
    std::uint16_t two = registry.real_server("web", server_two, 0);
    std::unique_ptr<WorkerCounters> first = std::make_unique<WorkerCounters>();
    std::unique_ptr<WorkerCounters> second = std::make_unique<WorkerCounters>();
    dataplane::RealServerLoad load;

    control::report::StatsView
    collect(const control::health::DownSet& down = {},
            std::vector<control::health::HealthStatus> health = {}) const {
        return control::report::collect_stats(config, registry, {first.get(), second.get()}, load,
                                              down, std::move(health));
    }
};

// The value of the metric `name` whose labels include `labels`; throws when there is none.
double metric(const std::vector<prometheus::MetricFamily>& families, const std::string& name,
              const std::map<std::string, std::string>& labels = {}) {
    for (const auto& f : families) {
        if (f.name != name)
            continue;
        for (const auto& m : f.metric) {
            std::size_t matched = 0;
            for (const auto& l : m.label)
                matched += labels.count(l.name) && labels.at(l.name) == l.value;
            if (matched == labels.size())
                return f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
        }
    }
    throw std::out_of_range(name);
}

bool has_family(const std::vector<prometheus::MetricFamily>& families, const std::string& name) {
    for (const auto& f : families)
        if (f.name == name)
            return true;
    return false;
}

} // namespace

TEST_CASE("stats view: two workers' counters are summed once, per service and server") {
    TwoWorkers workers;
    const auto service = workers.service, one = workers.one, two = workers.two;
    workers.first->rx_packets.add(3);
    workers.second->rx_packets.add(4);
    workers.first->services[service].connections.add(2);
    workers.second->services[service].connections.add(5);
    workers.first->real_servers[one].packets_in.add(10);
    workers.second->real_servers[one].packets_in.add(20);
    workers.second->real_servers[two].bytes_out.add(1500);
    workers.first->drop(DropReason::no_service);
    workers.second->drop(DropReason::no_service);
    workers.second->ftp.expectations.add(6);
    workers.first->busy_polls.add(9);
    workers.load.add(one, 4);
    workers.load.add(two, 1);

    const auto view = workers.collect();
    CHECK(view.node == "lb-test");
    CHECK(view.rx_packets == 7);
    REQUIRE(view.services.size() == 1);
    const auto& web = view.services[0];
    CHECK(web.traffic.connections == 7);
    CHECK(web.connections_active == 5);
    REQUIRE(web.real_servers.size() == 2);
    CHECK(web.real_servers[0].server == "203.0.113.11:8080");
    CHECK(web.real_servers[0].traffic.packets_in == 30);
    CHECK(web.real_servers[0].traffic.bytes_out == 0);
    CHECK(web.real_servers[0].connections_active == 4);
    CHECK(web.real_servers[1].server == "203.0.113.12");
    CHECK(web.real_servers[1].traffic.bytes_out == 1500);
    CHECK(web.real_servers[1].health == "unchecked");
    // Per worker, not summed.
    REQUIRE(view.workers.size() == 2);
    CHECK(view.workers[0].busy_polls == 9);
    CHECK(view.workers[1].busy_polls == 0);
    CHECK(view.workers[1].rx_packets == 4);
    std::map<std::string, std::uint64_t> drops(view.drops.begin(), view.drops.end());
    CHECK(drops.size() == dataplane::drop_reason_count);
    CHECK(drops.at("no_service") == 2);
    CHECK(drops.at("truncated") == 0);
}

TEST_CASE("stats view: the stats document and the metric families agree") {
    TwoWorkers workers;
    const auto service = workers.service, one = workers.one;
    workers.first->services[service].packets_out.add(11);
    workers.second->services[service].packets_out.add(31);
    workers.second->real_servers[one].connections.add(8);
    workers.first->drop(DropReason::table_full);
    workers.first->ftp.expectations.add(2);
    workers.second->ftp.expectations.add(3);
    workers.load.add(one, 2);
    // The second server fails its health check: drained, so its weight in effect is 0.
    control::health::HealthStatus failing;
    failing.server = {"web", server_two, 0};
    failing.check = "tcp";
    failing.up = false;
    failing.checked = true;
    failing.reason = "connection refused";
    failing.failures_total = 4;
    failing.checks_total = 6;
    const control::health::DownSet down{failing.server};

    auto view = workers.collect(down, {failing});
    view.connections_capacity = 65536;
    view.control_loop_lag_max_ms = 250;
    const Json stats = control::report::render_stats(view);
    const auto families = app::metric_families(view, {0.5, 0});

    const auto& web = stats["services"][0];
    CHECK(web["packets_out_total"] == 42);
    CHECK(metric(families, "lb_service_packets_total",
                 {{"service", "web"}, {"direction", "out"}}) == 42);
    CHECK(metric(families, "lb_service_connections_active", {{"service", "web"}}) == 2);
    const auto& first = web["real_servers"][0];
    CHECK(first["connections_total"] == 8);
    CHECK(metric(families, "lb_real_server_connections_total",
                 {{"service", "web"}, {"server", "203.0.113.11:8080"}}) == 8);
    CHECK(first["connections_active"] == 2);
    const auto& second = web["real_servers"][1];
    CHECK(second["server"] == "203.0.113.12");
    CHECK(second["weight"] == 0);
    CHECK(second["configured_weight"] == 2);
    const std::map<std::string, std::string> drained{{"service", "web"},
                                                     {"server", "203.0.113.12"}};
    CHECK(metric(families, "lb_real_server_weight", drained) == 0);
    CHECK(metric(families, "lb_real_server_up", drained) == 0);
    CHECK(metric(families, "lb_real_server_weight",
                 {{"service", "web"}, {"server", "203.0.113.11:8080"}}) == 3);
    CHECK(view.services[0].real_servers[1].health == "down");
    CHECK(view.services[0].real_servers[1].health_reason == "connection refused");
    CHECK(stats["drops_total"]["table_full"] == 1);
    CHECK(metric(families, "lb_drops_total", {{"reason", "table_full"}}) == 1);
    CHECK(stats["ftp"]["expectations_total"] == 5);
    CHECK(metric(families, "lb_ftp_events_total", {{"event", "expectation"}}) == 5);
    CHECK(stats["connections_capacity"] == 65536);
    CHECK(metric(families, "lb_connection_table_capacity") == 65536);
    CHECK(stats["control_loop_lag_max_ms"] == 250.0);
    CHECK(metric(families, "lb_control_loop_lag_seconds") == 0.25);
    CHECK(stats["health"][0]["server"] == "203.0.113.12");
    CHECK(stats["health"][0]["failures_total"] == 4);
    CHECK(metric(families, "lb_real_server_health_check_failures_total",
                 {{"server", "203.0.113.12"}, {"check", "tcp"}}) == 4);
    CHECK(metric(families, "lb_worker_busy_ratio", {{"worker", "0"}}) == 0.5);
    // People's table flattens the same document.
    CHECK(app::stats_table(stats).find("services.web.real_servers.203.0.113.12.weight") !=
          std::string::npos);
}

TEST_CASE("stats view: VRRP families only when VRRP is configured") {
    control::report::StatsView view;
    CHECK_FALSE(has_family(app::metric_families(view, {}), "lb_vrrp_state"));
    control::report::VrrpReport vrrp;
    control::vrrp::InstanceStatus instance;
    instance.name = "vip";
    instance.state = control::vrrp::State::master;
    instance.adverts_sent = 12;
    vrrp.instances.push_back(instance);
    vrrp.discarded[static_cast<std::size_t>(control::vrrp::Discard::bad_ttl)] = 3;
    view.vrrp = vrrp;
    const auto families = app::metric_families(view, {});
    CHECK(metric(families, "lb_vrrp_state", {{"instance", "vip"}}) == 2);
    CHECK(metric(families, "lb_vrrp_adverts_sent_total", {{"instance", "vip"}}) == 12);
    CHECK(metric(families, "lb_vrrp_adverts_discarded_total", {{"reason", "bad_ttl"}}) == 3);
    // The stats document has no VRRP section (lbctl vrrp answers for it).
    CHECK_FALSE(control::report::render_stats(view).contains("vrrp"));
}

namespace {

// 2024-05-01T12:00:00.123Z on the wall clock; 5000 ms on the monotonic one.
control::report::Moment a_moment() {
    using namespace std::chrono;
    return {sys_days{year{2024} / 5 / 1} + hours{12} + milliseconds{123},
            steady_clock::time_point{milliseconds{5000}}};
}

} // namespace

TEST_CASE("timestamps: ISO 8601 in UTC with milliseconds, and the monotonic clock in ms") {
    const auto m = a_moment();
    CHECK(control::report::iso8601_ms(m.wall) == "2024-05-01T12:00:00.123Z");
    CHECK(control::report::iso8601_ms(m.wall + std::chrono::microseconds{999}) ==
          "2024-05-01T12:00:00.123Z");
    CHECK(control::report::monotonic_ms(m.monotonic) == 5000);
}

TEST_CASE("lbctl vrrp: each transition has its moment, wall clock and monotonic") {
    const auto transition = a_moment();
    control::report::Moment now = transition;
    now.wall += std::chrono::milliseconds{1500};
    now.monotonic += std::chrono::milliseconds{1500};
    control::report::VrrpReport report;
    control::vrrp::InstanceStatus vip;
    vip.name = "vip";
    vip.state = control::vrrp::State::master;
    vip.last_transition = transition.wall;
    vip.last_transition_monotonic = transition.monotonic;
    vip.reason = "start-up";
    control::vrrp::InstanceStatus fresh; // no transition yet, its link down
    fresh.name = "fresh";
    fresh.listening = false;
    report.instances = {vip, fresh};

    const auto j = Json::parse(app::vrrp_answer(report, true, now).body);
    CHECK(j["as_of"] == "2024-05-01T12:00:01.623Z");
    CHECK(j["as_of_monotonic_ms"] == 6500);
    const auto& one = j["instances"][0];
    CHECK(one["last_transition"] == "2024-05-01T12:00:00.123Z");
    CHECK(one["last_transition_monotonic_ms"] == 5000);
    CHECK(one["last_transition_ms_ago"] == 1500);
    CHECK(one["listening"] == true);
    const auto& two = j["instances"][1];
    CHECK(two["last_transition"].is_null());
    CHECK(two["last_transition_monotonic_ms"].is_null());
    CHECK(two["last_transition_ms_ago"] == -1);
    CHECK(two["listening"] == false);

    const std::string table = app::vrrp_answer(report, false, now).body;
    CHECK(table.find("2024-05-01T12:00:00.123Z (1.5s ago)") != std::string::npos);
    CHECK(table.find("[link down: not listening]") != std::string::npos);
}

TEST_CASE("lbctl replication: in_sync_since is absent until the replication control sets it") {
    const auto now = a_moment();
    control::report::ReplicationReport report;
    report.local = "198.51.100.2:8848";
    auto j = Json::parse(app::replication_answer(report, true, now).body);
    CHECK(j["as_of"] == "2024-05-01T12:00:00.123Z");
    CHECK(j["as_of_monotonic_ms"] == 5000);
    CHECK(j["in_sync_since"].is_null());
    CHECK(j["in_sync_since_monotonic_ms"].is_null());
    std::string table = app::replication_answer(report, false, now).body;
    CHECK(table.find("in_sync_since              -\n") != std::string::npos);

    report.in_sync = true;
    control::report::Moment since = now;
    since.wall -= std::chrono::milliseconds{250};
    since.monotonic -= std::chrono::milliseconds{250};
    report.in_sync_since = since;
    j = Json::parse(app::replication_answer(report, true, now).body);
    CHECK(j["in_sync_since"] == "2024-05-01T11:59:59.873Z");
    CHECK(j["in_sync_since_monotonic_ms"] == 4750);
    table = app::replication_answer(report, false, now).body;
    CHECK(table.find("in_sync_since              2024-05-01T11:59:59.873Z\n") != std::string::npos);
    // Without a replication section: a refusal, in JSON when JSON was asked for.
    const auto refused = app::replication_answer(std::nullopt, true, now);
    CHECK_FALSE(refused.ok);
    CHECK(Json::parse(refused.body).contains("error"));
}
