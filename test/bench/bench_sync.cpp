// Replication codec figures (not a test): bytes per entry on the wire, and the cost per entry of
// building and signing datagrams (sender) and of verifying and decoding them (receiver), beside
// a baseline measured in the same run: copying the same datagrams' bytes; and the cost per entry
// of installing decoded connection entries into a live connection table (SessionBridge::apply,
// the standby's side), new and then refreshed in place. Issue "Session replication" asks for at
// least 1M entries/s each way on one core and at most 64 B per TCP connection.
#include <arpa/inet.h>
#include <sched.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <rte_eal.h>

#include "control/identity_registry.hpp"
#include "control/snapshot_builder.hpp"
#include "dataplane/dataplane.hpp"
#include "modules/replication/codec.hpp"
#include "modules/replication/session_bridge.hpp"
#include "modules/replication/testing/sync_fixtures.hpp"
#include "test/test_config.hpp"

using namespace lb::control::sync;
using Clock = std::chrono::steady_clock;

namespace {

ConnectionEntry connection(std::uint32_t n) {
    ConnectionEntry c = lb::test::sample_connection(n);
    c.flags = entry_nat | entry_track_sequence;
    c.client_next_seq = n * 7;
    c.client_ack = n * 13;
    return c;
}

std::size_t datagram_capacity(std::size_t entry_size) {
    return (max_datagram_size - header_size - mac_size) / entry_size;
}

double ns_per(Clock::duration d, std::size_t n) {
    return std::chrono::duration<double, std::nano>(d).count() / static_cast<double>(n);
}

// The CPU this process may run on (scripts/bench pins it with taskset): the EAL's one lcore.
int first_allowed_cpu() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
            if (CPU_ISSET(cpu, &set))
                return cpu;
    return 0;
}

// The service and real server lb::test::sample_connection names.
const std::string install_config = std::string(lb::test::two_interfaces) + R"(services:
  - name: web
    vip: 192.0.2.10
    port: 80
    real_servers:
      - {address: 203.0.113.11, port: 8080}
)";

struct InstallFigures {
    double inserted = 0;  // ns per entry, new connections
    double refreshed = 0; // ns per entry, the same entries again (updated in place)
};

// Applies `entries` (decoded ConnectionEntry values) into an empty live table, then again.
// False, saying why, when the table did not take them all.
bool measure_install(const std::vector<Entry>& entries, InstallFigures& figures) {
    lb::dataplane::DataplaneSizes sizes;
    sizes.packet_buffers = 511;
    sizes.packet_buffer_cache = 0;
    sizes.connections = static_cast<std::uint32_t>(entries.size() + entries.size() / 4);
    sizes.persistence_templates = 64;
    sizes.ftp_sessions = 8;
    sizes.name_prefix = "bsync_";
    lb::dataplane::Dataplane dataplane(sizes);
    lb::control::IdentityRegistry registry;
    const auto config = lb::test::config_from(install_config);
    const auto snapshot = lb::control::build_snapshot(config, lb::test::fake_ports(2),
                                                      dataplane.neighbours(), registry, nullptr, 1);
    dataplane.publish(*snapshot);
    lb::control::replication::SessionBridge bridge(dataplane.context());
    bridge.bind(*snapshot);

    constexpr std::uint32_t now = 1'000'000;
    const auto insert_start = Clock::now();
    for (const Entry& e : entries)
        bridge.apply(e, now);
    const auto insert_time = Clock::now() - insert_start;
    const auto refresh_start = Clock::now();
    for (const Entry& e : entries)
        bridge.apply(e, now + 1);
    const auto refresh_time = Clock::now() - refresh_start;

    if (bridge.counters().applied != 2 * entries.size() ||
        dataplane.connections().size() != entries.size()) {
        std::fprintf(stderr, "install: %zu applied, %zu in the table, of %zu entries\n",
                     static_cast<std::size_t>(bridge.counters().applied),
                     dataplane.connections().size(), entries.size());
        return false;
    }
    figures.inserted = ns_per(insert_time, entries.size());
    figures.refreshed = ns_per(refresh_time, entries.size());
    return true;
}

} // namespace

int main() {
    // The install figures need the EAL (DPDK tables): no hugepages, PCI or shared files.
    const std::string lcore = std::to_string(first_allowed_cpu());
    const char* eal_argv[] = {"bench_sync", "--no-huge", "--no-pci",    "--no-shconf",        "-m",
                              "512",        "-l",        lcore.c_str(), "--log-level=*:error"};
    if (rte_eal_init(9, const_cast<char**>(eal_argv)) < 0) {
        std::fprintf(stderr, "bench_sync: the EAL did not start\n");
        return 1;
    }
    const MessageKey key(std::vector<std::uint8_t>(32, 0x42));
    const KeyRing keys{key, std::nullopt};
    constexpr std::size_t total = 1'000'000;
    std::vector<Entry> entries;
    entries.reserve(total);
    for (std::uint32_t n = 0; n < total; ++n)
        entries.emplace_back(connection(n));

    // Sender: fill, sign, keep the datagrams for the receiver.
    std::vector<std::vector<std::uint8_t>> datagrams;
    DatagramBuilder builder;
    Header h;
    h.type = MessageType::entries;
    const auto send_start = Clock::now();
    std::size_t i = 0;
    while (i < total) {
        h.sequence = static_cast<std::uint32_t>(datagrams.size() + 1);
        builder.start(h);
        while (i < total && builder.add(entries[i]))
            ++i;
        const auto bytes = builder.finish(key);
        datagrams.emplace_back(bytes.begin(), bytes.end());
    }
    const auto send_time = Clock::now() - send_start;

    // Receiver: verify and decode every datagram.
    std::size_t decoded = 0;
    const auto receive_start = Clock::now();
    for (const auto& d : datagrams)
        decoded += decode_datagram(d, keys, h.cluster_id).entries.size();
    const auto receive_time = Clock::now() - receive_start;

    // Baseline: copy the same bytes once.
    std::vector<std::uint8_t> sink(max_datagram_size);
    std::size_t bytes_total = 0;
    const auto copy_start = Clock::now();
    for (const auto& d : datagrams) {
        std::memcpy(sink.data(), d.data(), d.size());
        bytes_total += d.size();
        asm volatile("" : : "r"(sink.data()) : "memory");
    }
    const auto copy_time = Clock::now() - copy_start;

    if (decoded != total) {
        std::fprintf(stderr, "decoded %zu of %zu entries\n", decoded, total);
        return 1;
    }

    // Install: the first 200K entries as the receiver decoded them, into a live table.
    constexpr std::size_t installs = 200'000;
    std::vector<Entry> to_install;
    to_install.reserve(installs);
    for (const auto& d : datagrams) {
        for (Entry& e : decode_datagram(d, keys, h.cluster_id).entries)
            if (to_install.size() < installs)
                to_install.push_back(std::move(e));
        if (to_install.size() == installs)
            break;
    }
    InstallFigures install;
    if (!measure_install(to_install, install))
        return 1;
    const double baseline = ns_per(copy_time, total);
    const double send = ns_per(send_time, total);
    const double receive = ns_per(receive_time, total);
    std::printf("lb replication codec benchmark: %zu TCP connection entries (NAT, with sequence "
                "numbers)\n",
                total);
    std::printf("  bytes per entry on the wire: %zu (%.1f with datagram headers and MACs), %zu "
                "entries per full %zu-byte datagram\n",
                encoded_size(entries[0]),
                static_cast<double>(bytes_total) / static_cast<double>(total),
                datagram_capacity(encoded_size(entries[0])), max_datagram_size);
    std::printf("  send (encode + HMAC-SHA256):    %6.1f ns/entry (%5.2f M entries/s)  x%.0f\n",
                send, 1e3 / send, send / baseline);
    std::printf("  receive (verify + decode):      %6.1f ns/entry (%5.2f M entries/s)  x%.0f\n",
                receive, 1e3 / receive, receive / baseline);
    std::printf("  install: SessionBridge::apply of the first %zuK decoded entries into a live "
                "connection table, then of the same again\n",
                installs / 1000);
    std::printf("  install (apply, new entry):     %6.1f ns/entry (%5.2f M entries/s)  x%.0f\n",
                install.inserted, 1e3 / install.inserted, install.inserted / baseline);
    std::printf("  install (apply, in place):      %6.1f ns/entry (%5.2f M entries/s)  x%.0f\n",
                install.refreshed, 1e3 / install.refreshed, install.refreshed / baseline);
    std::printf("  baseline (copy the same bytes): %6.2f ns/entry\n", baseline);
    rte_eal_cleanup();
    return 0;
}
