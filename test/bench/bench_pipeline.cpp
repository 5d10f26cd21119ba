// The worker pipeline in-process on prebuilt mbufs, one core: ns/packet and Mpps for
// established DR and NAT flows and for new connections (SYN, mh + persistence), at several
// connection-table sizes, next to a bare MAC-swap loop over the same mbufs measured in the same
// run (the baseline). Also bytes of memory per connection, everything included.
//
// Each burst gets 32 random flows of the table written into its mbufs before the clock starts,
// so lookups hit random entries (cache misses as in production), and only Worker::process is
// timed. Each figure is the median of 9 rounds. Figures, not assertions: these machines are
// shared and noisy; read the ratios.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/dataplane.hpp"
#include "test/packet/frame_builder.hpp"
#include "test/test_config.hpp"

using namespace lb::dataplane;
using namespace lb::test;

namespace {

constexpr std::uint32_t vip_dr = ipv4(198, 51, 100, 100);
constexpr std::uint32_t vip_nat = ipv4(198, 51, 100, 101);
constexpr std::uint32_t vip_syn_dr = ipv4(198, 51, 100, 102);
constexpr std::uint32_t vip_syn_nat = ipv4(198, 51, 100, 103);
constexpr std::uint32_t vip_tunnel = ipv4(198, 51, 100, 104);

const std::string config_yaml = std::string(two_interfaces) + R"(services:
  - name: dr
    vip: 198.51.100.100
    port: 80
    forwarding: dr
    scheduler: rr
    real_servers: [{address: 198.51.100.21}, {address: 198.51.100.22}]
  - name: nat
    vip: 198.51.100.101
    port: 80
    scheduler: rr
    real_servers: [{address: 203.0.113.11, port: 8080}, {address: 203.0.113.12, port: 8080}]
  - name: syn-dr
    vip: 198.51.100.102
    port: 80
    forwarding: dr
    scheduler: mh
    persistence: {timeout: 300s}
    real_servers: [{address: 198.51.100.21}, {address: 198.51.100.22}]
  - name: syn-nat
    vip: 198.51.100.103
    port: 80
    scheduler: mh
    persistence: {timeout: 300s}
    real_servers: [{address: 203.0.113.11}, {address: 203.0.113.12}]
  - name: tunnel
    vip: 198.51.100.104
    port: 80
    forwarding: tunnel
    scheduler: rr
    real_servers: [{address: 203.0.113.21}, {address: 203.0.113.22}]
)";

std::uint32_t flow_client(std::uint64_t i) {
    return ipv4(10, 0, 0, 0) + static_cast<std::uint32_t>(i >> 15);
}
std::uint16_t flow_port(std::uint64_t i) {
    return static_cast<std::uint16_t>(1024 + (i & 0x7fff));
}

DataplaneSizes bench_sizes(std::uint32_t capacity, bool replication) {
    DataplaneSizes sizes;
    sizes.session_events = replication; // the workers' event rings (dataplane/sync_events.hpp)
    sizes.workers = 1;
    sizes.packet_buffers = 1023;
    sizes.packet_buffer_cache = 0;
    sizes.connections = capacity;
    sizes.reply_keys = true;
    sizes.persistence_templates = 1u << 20;
    sizes.ftp_sessions = 64; // no FTP service here: the table exists as in lb, unused
    sizes.name_prefix = "bench_";
    return sizes;
}

struct Result {
    double ns_per_packet = 0;
    double mpps() const { return ns_per_packet > 0 ? 1000.0 / ns_per_packet : 0; }
};

class Bench {
  public:
    explicit Bench(std::uint32_t capacity, bool replication = false)
        : config_(config_from(config_yaml)), dataplane_(bench_sizes(capacity, replication)) {
        snapshot_ = lb::control::build_snapshot(config_, fake_ports(2), dataplane_.neighbours(),
                                                registry_, nullptr, 1);
        for (std::uint32_t a : {ipv4(198, 51, 100, 21), ipv4(198, 51, 100, 22)})
            dataplane_.neighbours().learn(rte_cpu_to_be_32(a), 0, rs1_mac.addr(), 0);
        for (std::uint32_t a : {ipv4(203, 0, 113, 11), ipv4(203, 0, 113, 12), ipv4(203, 0, 113, 21),
                                ipv4(203, 0, 113, 22)})
            dataplane_.neighbours().learn(rte_cpu_to_be_32(a), 1, rs2_mac.addr(), 0);
        dataplane_.publish(*snapshot_);
        for (auto& m : mbufs_) {
            m = rte_pktmbuf_alloc(dataplane_.pool());
            rte_pktmbuf_append(m, 64);
        }
    }
    ~Bench() {
        for (auto* m : mbufs_)
            rte_pktmbuf_free(m);
    }

    // `count` connections: half DR, half NAT.
    void fill(std::uint64_t count) {
        count = std::max<std::uint64_t>(count / 2, 1);
        for (std::uint64_t i = 0; i < count; ++i) {
            for (int nat = 0; nat < 2; ++nat) {
                ConnectionSpec s;
                s.key.src_ip = rte_cpu_to_be_32(flow_client(i));
                s.key.dst_ip = rte_cpu_to_be_32(nat ? vip_nat : vip_dr);
                s.key.src_port = rte_cpu_to_be_16(flow_port(i));
                s.key.dst_port = rte_cpu_to_be_16(80);
                s.key.protocol = IPPROTO_TCP;
                s.service = static_cast<std::uint16_t>(nat);
                s.real_server = static_cast<std::uint16_t>(nat * 2 + (i & 1));
                const auto& rs = snapshot_->real_servers[s.real_server];
                s.rs_address = rs.address;
                s.rs_port = rs.port ? rs.port : s.key.dst_port;
                s.flags = nat ? conn_nat : 0;
                s.ingress = 0;
                if (dataplane_.connections().insert(s, TcpState::established, 0, 0xfffffff) !=
                    InsertResult::inserted) {
                    std::fprintf(stderr, "fill failed at %llu\n",
                                 static_cast<unsigned long long>(i));
                    std::exit(1);
                }
            }
        }
        filled_ = count;
    }

    // As many tunnel connections as fill() made DR ones, the same clients and ports.
    void fill_tunnel() {
        constexpr std::uint16_t service = 4; // the fifth in config_yaml
        for (std::uint64_t i = 0; i < filled_; ++i) {
            ConnectionSpec s;
            s.key.src_ip = rte_cpu_to_be_32(flow_client(i));
            s.key.dst_ip = rte_cpu_to_be_32(vip_tunnel);
            s.key.src_port = rte_cpu_to_be_16(flow_port(i));
            s.key.dst_port = rte_cpu_to_be_16(80);
            s.key.protocol = IPPROTO_TCP;
            s.service = service;
            s.real_server = snapshot_->services[service].members[i & 1];
            s.rs_address = snapshot_->real_servers[s.real_server].address;
            s.rs_port = s.key.dst_port;
            s.flags = conn_tunnel;
            if (dataplane_.connections().insert(s, TcpState::established, 0, 0xfffffff) !=
                InsertResult::inserted) {
                std::fprintf(stderr, "tunnel fill failed at %llu\n",
                             static_cast<unsigned long long>(i));
                std::exit(1);
            }
        }
    }

    // What the NIC would say of every frame (its checksum verdicts): none by default.
    void set_rx_flags(std::uint64_t flags) {
        for (auto* m : mbufs_)
            m->ol_flags = flags;
    }

    // Writes a fresh frame into every mbuf: established flows of `vip` chosen at random, or
    // brand-new SYNs when `fresh` (each client opens 16 connections: templates mostly hit).
    void prepare(std::uint32_t vip, bool fresh, std::uint8_t flags) {
        for (auto* m : mbufs_) {
            std::uint64_t i = fresh ? next_fresh_++ : pick_(rng_) % filled_;
            L4 p;
            p.src =
                fresh ? ipv4(172, 16, 0, 0) + static_cast<std::uint32_t>(i >> 4) : flow_client(i);
            p.sport = fresh ? static_cast<std::uint16_t>(1024 + (i & 15)) : flow_port(i);
            p.dst = vip;
            p.dport = 80;
            p.tcp_flags = flags;
            p.payload = 0;
            const Bytes f = ipv4_frame(p);
            // Back to a received frame's layout: the tunnel's prepend moved the start.
            m->data_off = RTE_PKTMBUF_HEADROOM;
            m->data_len = 64;
            m->pkt_len = 64;
            std::memcpy(rte_pktmbuf_mtod(m, void*), f.data(), 64);
        }
    }

    std::uint64_t run_pipeline() {
        Worker& worker = dataplane_.worker(0);
        const std::uint64_t start = rte_rdtsc_precise();
        worker.process(mbufs_.data(), burst_size, 0, 1000);
        const std::uint64_t cycles = rte_rdtsc_precise() - start;
        for (std::uint8_t i = 0; i < 2; ++i)
            worker.tx(i).count = 0; // the mbufs are reused, not sent
        if (rte_ring* events = dataplane_.sync_events(0)) {
            events_ += rte_ring_count(events);
            rte_ring_reset(events); // what the control thread would drain, outside the timing
        }
        return cycles;
    }

    std::uint64_t run_baseline() {
        const std::uint64_t start = rte_rdtsc_precise();
        for (auto* m : mbufs_) {
            auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
            const rte_ether_addr a = eth->src_addr;
            eth->src_addr = eth->dst_addr;
            eth->dst_addr = a;
        }
        return rte_rdtsc_precise() - start;
    }

    // Mean ns/packet of `bursts` bursts of the pipeline and of the baseline on the same frames.
    // Median over 9 rounds of ns/packet for the pipeline and for the baseline on the same
    // frames: the median shrugs off the rounds another tenant of the machine stole.
    std::pair<Result, Result> measure(std::uint32_t vip, bool fresh, std::uint8_t flags,
                                      std::uint64_t bursts) {
        constexpr int rounds = 9;
        const double ns_per_cycle = 1e9 / static_cast<double>(rte_get_tsc_hz());
        const std::uint64_t per_round = std::max<std::uint64_t>(bursts / rounds, 1);
        const double packets = static_cast<double>(per_round * burst_size);
        std::vector<double> pipeline_ns;
        std::vector<double> baseline_ns;
        for (int r = 0; r < rounds; ++r) {
            std::uint64_t pipeline = 0;
            std::uint64_t baseline = 0;
            for (std::uint64_t b = 0; b < per_round; ++b) {
                prepare(vip, fresh, flags);
                baseline += run_baseline();
                prepare(vip, fresh, flags); // same cache state for the pipeline
                if (fresh)
                    next_fresh_ -= burst_size;
                pipeline += run_pipeline();
            }
            pipeline_ns.push_back(pipeline * ns_per_cycle / packets);
            baseline_ns.push_back(baseline * ns_per_cycle / packets);
        }
        auto median = [](std::vector<double>& v) {
            std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
            return v[v.size() / 2];
        };
        return {Result{median(pipeline_ns)}, Result{median(baseline_ns)}};
    }

    // The connection-table lookup alone, same random flows: how much of the pipeline is it.
    Result lookup_only(std::uint32_t vip, std::uint64_t bursts) {
        std::uint64_t cycles = 0;
        FlowKey keys[burst_size];
        const FlowKey* key_ptrs[burst_size];
        ConnectionHit hits[burst_size];
        for (std::uint64_t b = 0; b < bursts; ++b) {
            for (std::uint32_t k = 0; k < burst_size; ++k) {
                const std::uint64_t i = pick_(rng_) % filled_;
                keys[k] = FlowKey{};
                keys[k].src_ip = rte_cpu_to_be_32(flow_client(i));
                keys[k].dst_ip = rte_cpu_to_be_32(vip);
                keys[k].src_port = rte_cpu_to_be_16(flow_port(i));
                keys[k].dst_port = rte_cpu_to_be_16(80);
                keys[k].protocol = IPPROTO_TCP;
                key_ptrs[k] = &keys[k];
            }
            const std::uint64_t start = rte_rdtsc_precise();
            const std::uint64_t found =
                dataplane_.connections().lookup_bulk(key_ptrs, burst_size, hits);
            cycles += rte_rdtsc_precise() - start;
            if (found != 0xffffffffu)
                std::fprintf(stderr, "lookup missed\n");
        }
        return Result{cycles * 1e9 / static_cast<double>(rte_get_tsc_hz()) /
                      static_cast<double>(bursts * burst_size)};
    }

    std::uint64_t events() const { return events_; }

    std::uint64_t drops() const {
        std::uint64_t t = 0;
        for (const auto& d : dataplane_.counters(0).drops)
            t += d.read();
        return t;
    }

  private:
    lb::control::config::Config config_;
    lb::control::IdentityRegistry registry_;
    Dataplane dataplane_;
    std::unique_ptr<Snapshot> snapshot_;
    std::array<rte_mbuf*, burst_size> mbufs_{};
    std::uint64_t filled_ = 0;
    std::uint64_t next_fresh_ = 0;
    std::uint64_t events_ = 0;
    std::mt19937_64 rng_{42};
    std::uniform_int_distribution<std::uint64_t> pick_;
};

std::size_t heap_in_use() {
    rte_malloc_socket_stats s{};
    rte_malloc_get_socket_stats(0, &s);
    return s.heap_allocsz_bytes;
}

void memory_per_connection(std::uint32_t capacity) {
    for (bool nat : {false, true}) {
        const std::size_t before = heap_in_use();
        auto t = std::make_unique<ConnectionTable>(capacity, nat, nullptr, 0, "bench_m");
        const std::size_t after = heap_in_use();
        std::printf("memory per connection (%s, capacity %u): %.1f B  (flow-table slots, "
                    "entry, free-index ring)\n",
                    nat ? "NAT: client and reply keys" : "DR: one key", capacity,
                    static_cast<double>(after - before) / capacity);
    }
}

} // namespace

// The workers' share of session replication: the same cases with the event rings on and off,
// at one table size (established packets emit nothing; an adopted mid-flow connection emits its
// connection, a new SYN under persistence may emit its template).
void replication_cost(std::uint64_t size, std::uint64_t bursts) {
    Result with[3], without[3], base[3];
    std::uint64_t events = 0;
    for (const bool on : {false, true}) {
        Bench b(static_cast<std::uint32_t>(size + 131072), on);
        b.fill(size);
        Result* out = on ? with : without;
        std::tie(out[0], base[0]) = b.measure(vip_dr, false, RTE_TCP_ACK_FLAG, bursts);
        std::tie(out[1], base[1]) =
            b.measure(vip_syn_dr, true, RTE_TCP_ACK_FLAG, 40'000 / burst_size);
        std::tie(out[2], base[2]) =
            b.measure(vip_syn_dr, true, RTE_TCP_SYN_FLAG, 40'000 / burst_size);
        if (on)
            events = b.events();
    }
    const char* names[] = {"established DR", "new DR, adopted (mh)", "SYN DR mh+persist"};
    std::printf("\nreplication's cost on the worker, %llu connections: ns/packet without | with "
                "the event rings (difference)\n",
                static_cast<unsigned long long>(size));
    for (int i = 0; i < 3; ++i)
        std::printf("  %-22s %6.1f | %6.1f (%+5.1f), baseline %5.2f\n", names[i],
                    without[i].ns_per_packet, with[i].ns_per_packet,
                    with[i].ns_per_packet - without[i].ns_per_packet, base[i].ns_per_packet);
    std::printf("  events queued in the run: %llu\n", static_cast<unsigned long long>(events));
}

// Tunnel forwarding's price: established tunnel flows against established DR flows of the same
// table, in the same run (the difference is the outer header: prepend, 20 bytes, a checksum).
// The two alternate five times and each figure is the median of its five, so that a noisy
// phase of the machine falls on both.
void tunnel_cost(std::uint64_t size, std::uint64_t bursts) {
    Bench b(static_cast<std::uint32_t>(size + size / 2 + 131072));
    b.fill(size);
    b.fill_tunnel();
    std::vector<double> dr, tunnel, base;
    for (int round = 0; round < 5; ++round) {
        const auto [d, base_dr] = b.measure(vip_dr, false, RTE_TCP_ACK_FLAG, bursts);
        const auto [t, base_tunnel] = b.measure(vip_tunnel, false, RTE_TCP_ACK_FLAG, bursts);
        dr.push_back(d.ns_per_packet);
        tunnel.push_back(t.ns_per_packet);
        base.push_back(base_dr.ns_per_packet);
        base.push_back(base_tunnel.ns_per_packet);
    }
    auto median = [](std::vector<double>& v) {
        std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
        return v[v.size() / 2];
    };
    const double t = median(tunnel), d = median(dr), m = median(base);
    std::printf("\ntunnel forwarding, %llu connections: established tunnel %.1f ns (x%.1f) | "
                "established DR %.1f ns (x%.1f) | %+.1f ns for the outer header\n",
                static_cast<unsigned long long>(size), t, t / m, d, d / m, t - d);
    if (b.drops() != 0)
        std::printf("  warning: %llu packets were dropped\n",
                    static_cast<unsigned long long>(b.drops()));
}

int main(int argc, char** argv) {
    if (rte_eal_init(argc, argv) < 0) {
        std::fprintf(stderr, "EAL initialisation failed\n");
        return 1;
    }
    std::vector<std::uint64_t> sizes = {1'000, 100'000, 1'000'000, 10'000'000};
    if (const char* s = std::getenv("LB_BENCH_SIZES")) {
        sizes.clear();
        for (std::string part; *s; ++s) {
            if (*s == ',') {
                sizes.push_back(std::stoull(part));
                part.clear();
            } else {
                part += *s;
            }
            if (s[1] == '\0')
                sizes.push_back(std::stoull(part));
        }
    }
    const std::uint64_t bursts =
        (std::getenv("LB_BENCH_PACKETS") ? std::stoull(std::getenv("LB_BENCH_PACKETS")) : 200000) /
        burst_size;
    std::printf("lb dataplane benchmark: one core, burst %u, %.2f GHz TSC; ns/packet (Mpps), "
                "baseline = MAC swap on the same mbufs in the same run\n\n",
                burst_size, rte_get_tsc_hz() / 1e9);
    std::printf("%11s | %-22s | %-22s | %-22s | %-22s | %-17s\n", "connections", "established DR",
                "established NAT", "SYN DR mh+persist", "SYN NAT mh+persist", "baseline MAC swap");
    for (std::uint64_t size : sizes) {
        std::unique_ptr<Bench> b;
        try {
            b = std::make_unique<Bench>(static_cast<std::uint32_t>(size + 131072));
        } catch (const std::exception& e) {
            std::printf("%11llu | skipped: %s\n", static_cast<unsigned long long>(size), e.what());
            continue;
        }
        b->fill(size);
        auto [dr, base1] = b->measure(vip_dr, false, RTE_TCP_ACK_FLAG, bursts);
        auto [nat, base2] = b->measure(vip_nat, false, RTE_TCP_ACK_FLAG, bursts);
        auto [syn_dr, base3] = b->measure(vip_syn_dr, true, RTE_TCP_SYN_FLAG, 40'000 / burst_size);
        auto [syn_nat, base4] =
            b->measure(vip_syn_nat, true, RTE_TCP_SYN_FLAG, 40'000 / burst_size);
        const double base = (base1.ns_per_packet + base2.ns_per_packet) / 2;
        auto cell = [&](Result r) {
            char buf[64];
            std::snprintf(buf, sizeof buf, "%6.1f (%5.2f) x%5.1f", r.ns_per_packet, r.mpps(),
                          r.ns_per_packet / base);
            return std::string(buf);
        };
        std::printf("%11llu | %-22s | %-22s | %-22s | %-22s | %6.2f (%6.2f)\n",
                    static_cast<unsigned long long>(size), cell(dr).c_str(), cell(nat).c_str(),
                    cell(syn_dr).c_str(), cell(syn_nat).c_str(), base, 1000.0 / base);
        std::printf("%11s   connection lookup alone (bulk, burst of 32): %.1f ns/key\n", "",
                    b->lookup_only(vip_dr, bursts).ns_per_packet);
        // A NIC that verified the IPv4 header (RTE_MBUF_F_RX_IP_CKSUM_GOOD) spares the check.
        b->set_rx_flags(RTE_MBUF_F_RX_IP_CKSUM_GOOD);
        auto [dr_nic, base5] = b->measure(vip_dr, false, RTE_TCP_ACK_FLAG, bursts);
        b->set_rx_flags(0);
        std::printf("%11s   established DR with the NIC's checksum verdict: %.1f ns (x%.1f)\n", "",
                    dr_nic.ns_per_packet, dr_nic.ns_per_packet / base5.ns_per_packet);
        if (b->drops() != 0)
            std::printf("            warning: %llu packets were dropped\n",
                        static_cast<unsigned long long>(b->drops()));
    }
    std::printf("\n(xN = ratio to the baseline)\n");
    for (std::uint64_t size : {std::uint64_t{1'000}, std::uint64_t{1'000'000}})
        if (std::find(sizes.begin(), sizes.end(), size) != sizes.end())
            replication_cost(size, bursts);
    for (std::uint64_t size : {std::uint64_t{1'000}, std::uint64_t{1'000'000}})
        if (std::find(sizes.begin(), sizes.end(), size) != sizes.end())
            tunnel_cost(size, bursts);
    // rte_hash rounds its buckets and rings up to powers of two: show a round capacity and a
    // power of two.
    memory_per_connection(1'000'000);
    memory_per_connection(1u << 20);
    rte_eal_cleanup();
    return 0;
}
