// The whole-process benchmark's traffic generator (not a test): a DPDK program on one lcore whose
// one port is a net_memif client connected to the port of the process under test (the real lb
// binary, or dpdk-testpmd in macswap mode for the ceiling). It sends prebuilt frames cycling
// over N flows, checks every frame that comes back against what the process must have made of
// it (a frame rewritten wrong, or one that was never sent, fails the run: it is not a figure),
// and finds the highest rate with at most 0.1% loss by bisection, then the latency (a TSC
// timestamp in the payload) at 90% of that rate.
//
//   lb_traffic EAL-ARGS -- MODE FLOWS [SECONDS-PER-TRIAL]
//   MODE: dr | nat | udp | new | macswap
//
// The process under test is on 198.51.100.2/24 (scripts/bench_whole.py, which also writes lb's
// configuration): DR VIP 198.51.100.100 (tcp 80, udp 53, mh) → 198.51.100.21/.22; NAT VIP
// 198.51.100.101:80 (mh) → 198.51.100.31/.32:8080. The generator plays the clients and the real
// servers: it answers lb's ARP requests for the servers with their MACs.
#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "test/packet/frame_builder.hpp"

using namespace lb::test;

namespace {

constexpr std::uint16_t port = 0;
constexpr std::uint16_t burst = 32;
constexpr std::uint32_t magic = 0x4c425447; // "LBTG"
constexpr std::uint32_t client_router = ipv4(198, 51, 100, 10);
constexpr std::uint32_t vip_dr = ipv4(198, 51, 100, 100);
constexpr std::uint32_t vip_nat = ipv4(198, 51, 100, 101);
constexpr std::array<std::uint32_t, 2> rs_dr = {ipv4(198, 51, 100, 21), ipv4(198, 51, 100, 22)};
constexpr std::array<std::uint32_t, 2> rs_nat = {ipv4(198, 51, 100, 31), ipv4(198, 51, 100, 32)};
constexpr std::uint16_t rs_nat_port = 8080;
constexpr Mac generator_mac{{0x02, 0xc1, 0, 0, 0, 0x01}};
constexpr Mac any_mac{{0x02, 0, 0, 0, 0, 0x02}};

Mac server_mac(std::uint32_t address) {
    return Mac{{0x02, 0x51, 0, 0, 0, static_cast<std::uint8_t>(address & 0xff)}};
}

enum class Mode { dr, nat, udp, fresh, macswap };

struct Payload {
    std::uint32_t magic;
    std::uint32_t flow; // bit 31: a real server's frame (NAT, server → client)
    std::uint64_t tsc;
};

constexpr std::size_t checked = 14 + 20 + 20; // headers compared byte for byte (after MACs)

std::uint32_t flow_client(std::uint64_t i) {
    return ipv4(203, 0, 113, 0) + static_cast<std::uint32_t>(i >> 15);
}
std::uint16_t flow_port(std::uint64_t i) {
    return static_cast<std::uint16_t>(1024 + (i & 0x7fff));
}

struct Histogram {
    static constexpr std::size_t bins = 100'000; // 100 ns each: up to 10 ms
    std::vector<std::uint64_t> count = std::vector<std::uint64_t>(bins, 0);
    std::uint64_t total = 0;
    void add(double ns) {
        const auto b = std::min<std::size_t>(static_cast<std::size_t>(ns / 100), bins - 1);
        ++count[b];
        ++total;
    }
    double quantile_us(double q) const {
        std::uint64_t seen = 0;
        for (std::size_t b = 0; b < bins; ++b) {
            seen += count[b];
            if (seen > 0 && static_cast<double>(seen) >= q * static_cast<double>(total))
                return (static_cast<double>(b) + 0.5) / 10.0;
        }
        return 0;
    }
};

struct Trial {
    std::uint64_t sent = 0, received = 0, bad = 0;
    double seconds = 0;
    Histogram latency;
    double loss() const {
        return sent ? static_cast<double>(sent - std::min(sent, received)) /
                          static_cast<double>(sent)
                    : 1.0;
    }
    double rx_mpps() const { return static_cast<double>(received) / seconds / 1e6; }
};

// Frames of every flow in one flat array (a fixed stride), so that cycling over a million flows
// reads memory in order: a vector of vectors cost the generator two dependent misses per frame
// and made it, not the process under test, the limit at 1M flows.
class FrameStore {
  public:
    static constexpr std::size_t stride = 80;
    struct View {
        const std::uint8_t* bytes;
        std::uint16_t length;
        const std::uint8_t* data() const { return bytes; }
        std::size_t size() const { return length; }
        bool empty() const { return length == 0; }
        std::uint8_t operator[](std::size_t i) const { return bytes[i]; }
    };
    void resize(std::size_t n) {
        bytes_.assign(n * stride, 0);
        lengths_.assign(n, 0);
    }
    void set(std::size_t i, const std::uint8_t* data, std::size_t length) {
        length = std::min(length, stride);
        std::memcpy(&bytes_[i * stride], data, length);
        lengths_[i] = static_cast<std::uint16_t>(length);
    }
    void set(std::size_t i, const Bytes& frame) { set(i, frame.data(), frame.size()); }
    void push_back(const Bytes& frame) {
        resize_keep(lengths_.size() + 1);
        set(lengths_.size() - 1, frame);
    }
    View operator[](std::size_t i) const { return {&bytes_[i * stride], lengths_[i]}; }
    std::size_t size() const { return lengths_.size(); }

  private:
    void resize_keep(std::size_t n) {
        bytes_.resize(n * stride, 0);
        lengths_.resize(n, 0);
    }
    std::vector<std::uint8_t> bytes_;
    std::vector<std::uint16_t> lengths_;
};

class Generator {
  public:
    Generator(Mode mode, std::uint64_t flows, rte_mempool* pool)
        : mode_(mode), flows_(flows), pool_(pool), hz_(static_cast<double>(rte_get_tsc_hz())) {}

    bool start();
    bool warm_up();
    Trial trial(double pps, double seconds);
    std::uint64_t bad_total() const { return bad_total_; }

  private:
    // The frame flow `f` sends (client → VIP, or for NAT's odd sequence numbers the real
    // server's reply), without the payload.
    Bytes client_frame(std::uint64_t f, std::uint8_t flags) const;
    Bytes server_frame(std::uint64_t f) const;
    void send_raw(const Bytes& frame);
    void answer_arp(rte_mbuf* m);
    // An ARP frame is answered (if it asks for a server) and consumed: true.
    bool took_arp(rte_mbuf* m) {
        const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
        if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP))
            return false;
        answer_arp(m);
        return true;
    }
    // Checks a returned frame; false if it is not what the process must have sent.
    bool verify(const rte_mbuf* m, const Payload& p) const;
    void fill(rte_mbuf* m, FrameStore::View image, std::uint32_t flow_word);
    FrameStore::View image_for(std::uint64_t sequence, std::uint32_t& flow_word);

    Mode mode_;
    std::uint64_t flows_;
    rte_mempool* pool_;
    double hz_;
    rte_ether_addr peer_mac_{};
    FrameStore out_;         // per flow: what we send (client side)
    FrameStore back_;        // per flow (NAT): the server's reply we send
    FrameStore expect_;      // per flow: the client frame as it must come back
    FrameStore expect_back_; // per flow (NAT): the reply as it must reach the client
    std::uint64_t next_ = 0;
    std::uint64_t fresh_next_ = 0; // new connections: the next unused flow
    std::uint64_t bad_total_ = 0;
    Bytes fresh_frame_; // scratch: no allocation per frame
};

void Generator::send_raw(const Bytes& frame) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (!m)
        return;
    std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(frame.size())), frame.data(),
                frame.size());
    if (rte_eth_tx_burst(port, 0, &m, 1) != 1)
        rte_pktmbuf_free(m);
}

bool Generator::start() {
    // The link comes up when the memif client has connected (asynchronously).
    const std::uint64_t give_up = rte_get_tsc_cycles() + 10 * rte_get_tsc_hz();
    rte_eth_link link{};
    while (rte_eth_link_get_nowait(port, &link), link.link_status != RTE_ETH_LINK_UP) {
        if (rte_get_tsc_cycles() > give_up) {
            std::fprintf(stderr, "lb_traffic: the memif link never came up\n");
            return false;
        }
        rte_delay_ms(10);
    }
    if (mode_ == Mode::macswap) {
        peer_mac_ = any_mac.addr();
        return true;
    }
    // The process's MAC, from its answer to an ARP request for the VIP.
    for (int attempt = 0; attempt < 500; ++attempt) {
        send_raw(arp_frame(RTE_ARP_OP_REQUEST, generator_mac, client_router, vip_dr));
        for (const std::uint32_t rs : {rs_dr[0], rs_dr[1], rs_nat[0], rs_nat[1]})
            send_raw(arp_frame(RTE_ARP_OP_REQUEST, server_mac(rs), rs, rs)); // gratuitous
        rte_delay_ms(10);
        rte_mbuf* in[burst];
        const std::uint16_t n = rte_eth_rx_burst(port, 0, in, burst);
        bool found = false;
        for (std::uint16_t i = 0; i < n; ++i) {
            const auto* eth = rte_pktmbuf_mtod(in[i], const rte_ether_hdr*);
            if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
                const auto* arp = reinterpret_cast<const rte_arp_hdr*>(eth + 1);
                if (arp->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REPLY) &&
                    arp->arp_data.arp_sip == rte_cpu_to_be_32(vip_dr)) {
                    peer_mac_ = arp->arp_data.arp_sha;
                    found = true;
                } else {
                    answer_arp(in[i]);
                    continue;
                }
            }
            rte_pktmbuf_free(in[i]);
        }
        if (found)
            return true;
    }
    std::fprintf(stderr, "lb_traffic: no ARP answer for the VIP\n");
    return false;
}

void Generator::answer_arp(rte_mbuf* m) {
    // lb asks for its real servers (and refreshes them every few seconds): they are us.
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const auto* arp = reinterpret_cast<const rte_arp_hdr*>(eth + 1);
    if (arp->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST)) {
        const std::uint32_t target = rte_be_to_cpu_32(arp->arp_data.arp_tip);
        Mac asker;
        std::memcpy(asker.b, arp->arp_data.arp_sha.addr_bytes, 6);
        send_raw(arp_frame(RTE_ARP_OP_REPLY, server_mac(target), target,
                           rte_be_to_cpu_32(arp->arp_data.arp_sip), asker));
    }
    rte_pktmbuf_free(m);
}

Bytes Generator::client_frame(std::uint64_t f, std::uint8_t flags) const {
    L4 p;
    p.protocol = mode_ == Mode::udp ? IPPROTO_UDP : IPPROTO_TCP;
    p.src = flow_client(f);
    p.sport = flow_port(f);
    p.dst = mode_ == Mode::nat ? vip_nat : vip_dr;
    p.dport = mode_ == Mode::udp ? 53 : 80;
    p.tcp_flags = flags;
    p.payload = sizeof(Payload);
    p.src_mac = generator_mac;
    Mac dst;
    std::memcpy(dst.b, peer_mac_.addr_bytes, 6);
    p.dst_mac = dst;
    return ipv4_frame(p);
}

Bytes Generator::server_frame(std::uint64_t f) const {
    // The real server lb chose answers the client: from its own address and port.
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(expect_[f].data() + 14);
    L4 p;
    p.src = rte_be_to_cpu_32(ip->dst_addr);
    p.sport = rs_nat_port;
    p.dst = flow_client(f);
    p.dport = flow_port(f);
    p.tcp_flags = RTE_TCP_ACK_FLAG;
    p.payload = sizeof(Payload);
    p.src_mac = server_mac(p.src);
    Mac dst;
    std::memcpy(dst.b, peer_mac_.addr_bytes, 6);
    p.dst_mac = dst;
    return ipv4_frame(p);
}

void Generator::fill(rte_mbuf* m, FrameStore::View image, std::uint32_t flow_word) {
    auto* data = rte_pktmbuf_mtod(m, std::uint8_t*);
    std::memcpy(data, image.data(), image.size());
    m->data_len = m->pkt_len = static_cast<std::uint32_t>(image.size());
    const std::size_t l4 = mode_ == Mode::udp ? 8 : 20;
    Payload p{magic, flow_word, rte_rdtsc()};
    std::memcpy(data + 14 + 20 + l4, &p, sizeof p);
}

bool Generator::verify(const rte_mbuf* m, const Payload& p) const {
    const auto* data = rte_pktmbuf_mtod(m, const std::uint8_t*);
    const std::uint64_t f = p.flow & 0x7fffffff;
    if (f >= flows_)
        return false;
    const std::size_t n = mode_ == Mode::udp ? checked - 12 : checked;
    if (mode_ == Mode::fresh) {
        // Any of the real servers, from lb's MAC, to the VIP still (DR rewrites MACs only).
        const auto* eth = reinterpret_cast<const rte_ether_hdr*>(data);
        return (server_mac(rs_dr[0]) == eth->dst_addr || server_mac(rs_dr[1]) == eth->dst_addr) &&
               std::memcmp(&eth->src_addr, &peer_mac_, 6) == 0 &&
               std::memcmp(data + 30, out_[0].data() + 30, 4) == 0;
    }
    const FrameStore::View want = (p.flow & 0x80000000u) ? expect_back_[f] : expect_[f];
    return std::memcmp(data, want.data(), 12) == 0 &&
           std::memcmp(data + 14, want.data() + 14, n - 14) == 0;
}

FrameStore::View Generator::image_for(std::uint64_t sequence, std::uint32_t& flow_word) {
    if (mode_ == Mode::nat && (sequence & 1)) {
        const std::uint64_t f = (sequence >> 1) % flows_;
        flow_word = static_cast<std::uint32_t>(f) | 0x80000000u;
        return back_[f];
    }
    const std::uint64_t f = (mode_ == Mode::nat ? sequence >> 1 : sequence) % flows_;
    flow_word = static_cast<std::uint32_t>(f);
    return out_[f];
}

bool Generator::warm_up() {
    if (mode_ == Mode::fresh) {
        // Templates only for the addresses; every trial opens connections never seen before.
        out_.push_back(client_frame(0, RTE_TCP_SYN_FLAG));
        return true;
    }
    out_.resize(flows_);
    expect_.resize(flows_);
    for (std::uint64_t f = 0; f < flows_; ++f)
        out_.set(f, client_frame(f, RTE_TCP_ACK_FLAG));
    // One frame per flow: with `mh`, lb adopts it (creates the connection), and what comes
    // back is what every later frame of the flow must look like.
    auto learn = [&](FrameStore& sent, FrameStore& expect, bool back) {
        std::uint64_t learnt = 0, next = 0, first_missing = 0;
        const std::uint64_t give_up = rte_get_tsc_cycles() + 60 * rte_get_tsc_hz();
        while (learnt < flows_ && rte_get_tsc_cycles() < give_up) {
            // At most 4096 ahead of what came back. After a resend restarts `next` below
            // `learnt`, `next - learnt` would wrap (unsigned) and stop sending for good.
            if (next < flows_ && next < learnt + 4096) {
                rte_mbuf* m[burst];
                const auto k =
                    static_cast<std::uint16_t>(std::min<std::uint64_t>(burst, flows_ - next));
                if (rte_pktmbuf_alloc_bulk(pool_, m, k) == 0) {
                    for (std::uint16_t i = 0; i < k; ++i)
                        fill(m[i], sent[next + i],
                             static_cast<std::uint32_t>(next + i) | (back ? 0x80000000u : 0));
                    const std::uint16_t s = rte_eth_tx_burst(port, 0, m, k);
                    for (std::uint16_t i = s; i < k; ++i)
                        rte_pktmbuf_free(m[i]);
                    next += s;
                }
            }
            rte_mbuf* in[burst];
            const std::uint16_t n = rte_eth_rx_burst(port, 0, in, burst);
            for (std::uint16_t i = 0; i < n; ++i) {
                if (took_arp(in[i]))
                    continue;
                const auto* data = rte_pktmbuf_mtod(in[i], const std::uint8_t*);
                const std::size_t l4 = mode_ == Mode::udp ? 8 : 20;
                Payload p;
                std::memcpy(&p, data + 14 + 20 + l4, sizeof p);
                const std::uint64_t f = p.flow & 0x7fffffff;
                // A late duplicate of the other direction's warm-up is not this direction's.
                const bool is_back = (p.flow & 0x80000000u) != 0;
                if (p.magic == magic && f < flows_ && is_back == back && expect[f].empty()) {
                    expect.set(f, data, rte_pktmbuf_pkt_len(in[i]));
                    ++learnt;
                }
                rte_pktmbuf_free(in[i]);
            }
            if (next == flows_ && n == 0) {
                // Resend from the first flow still missing (lb resolving its servers, or a
                // full ring, lost some); duplicates of learnt flows are ignored above.
                while (first_missing < flows_ && !expect[first_missing].empty())
                    ++first_missing;
                next = first_missing;
            }
        }
        return learnt == flows_;
    };
    if (!learn(out_, expect_, false)) {
        std::fprintf(stderr, "lb_traffic: warm-up: not every flow came back\n");
        return false;
    }
    if (mode_ == Mode::nat) {
        back_.resize(flows_);
        expect_back_.resize(flows_);
        for (std::uint64_t f = 0; f < flows_; ++f)
            back_.set(f, server_frame(f));
        if (!learn(back_, expect_back_, true)) {
            std::fprintf(stderr, "lb_traffic: warm-up: not every reply came back\n");
            return false;
        }
    }
    return true;
}

Trial Generator::trial(double pps, double seconds) {
    Trial t;
    const std::uint64_t start = rte_rdtsc();
    const auto duration = static_cast<std::uint64_t>(seconds * hz_);
    const double gap = pps > 0 ? burst * hz_ / pps : 0;
    double next_send = static_cast<double>(start);
    const double ns_per_cycle = 1e9 / hz_;
    std::uint64_t now = start;
    while ((now = rte_rdtsc()) - start < duration) {
        if (gap == 0 || static_cast<double>(now) >= next_send) {
            rte_mbuf* m[burst];
            if (rte_pktmbuf_alloc_bulk(pool_, m, burst) == 0) {
                for (std::uint16_t i = 0; i < burst; ++i) {
                    std::uint32_t word = 0;
                    if (mode_ == Mode::fresh) {
                        // A SYN, then its ACK: one new connection per two frames.
                        const std::uint64_t f = fresh_next_ + (next_ >> 1);
                        Bytes& frame = fresh_frame_;
                        const FrameStore::View first = out_[0];
                        frame.assign(first.data(), first.data() + first.size());
                        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(frame.data() + 14);
                        auto* tcp = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
                        // 8M connections before an address and port come back (the lb
                        // under test expires them after 2 s).
                        ip->src_addr = rte_cpu_to_be_32(
                            ipv4(203, 0, 113, 0) + static_cast<std::uint32_t>((f >> 15) & 0xff));
                        tcp->src_port = rte_cpu_to_be_16(flow_port(f));
                        tcp->tcp_flags = (next_ & 1) ? RTE_TCP_ACK_FLAG : RTE_TCP_SYN_FLAG;
                        ip->hdr_checksum = 0;
                        ip->hdr_checksum = rte_ipv4_cksum(ip); // lb checks it; not TCP's
                        fill(m[i], {frame.data(), static_cast<std::uint16_t>(frame.size())}, 0);
                    } else {
                        const FrameStore::View image = image_for(next_, word); // sets word
                        fill(m[i], image, word);
                    }
                    ++next_;
                }
                const std::uint16_t s = rte_eth_tx_burst(port, 0, m, burst);
                for (std::uint16_t i = s; i < burst; ++i)
                    rte_pktmbuf_free(m[i]);
                t.sent += s;
                if (mode_ == Mode::fresh && s < burst)
                    next_ -= burst - s;
            }
            next_send += gap;
        }
        rte_mbuf* in[burst];
        const std::uint16_t n = rte_eth_rx_burst(port, 0, in, burst);
        const std::uint64_t arrived = rte_rdtsc();
        for (std::uint16_t i = 0; i < n; ++i) {
            if (took_arp(in[i]))
                continue;
            const auto* data = rte_pktmbuf_mtod(in[i], const std::uint8_t*);
            Payload p;
            std::memcpy(&p, data + 14 + 20 + (mode_ == Mode::udp ? 8 : 20), sizeof p);
            if (p.magic != magic || !verify(in[i], p)) {
                if (t.bad == 0 && bad_total_ == 0 && std::getenv("LB_TRAFFIC_DEBUG")) {
                    const std::uint64_t f = p.flow & 0x7fffffff;
                    std::fprintf(stderr, "bad frame (flow %llu, magic %x):", (unsigned long long)f,
                                 p.magic);
                    for (std::size_t b = 0; b < 70 && b < rte_pktmbuf_pkt_len(in[i]); ++b)
                        std::fprintf(stderr, " %02x", data[b]);
                    const auto& want = (p.flow & 0x80000000u) ? expect_back_ : expect_;
                    if (f < want.size()) {
                        std::fprintf(stderr, "\nexpected:");
                        for (std::size_t b = 0; b < 70 && b < want[f].size(); ++b)
                            std::fprintf(stderr, " %02x", want[f][b]);
                    }
                    std::fprintf(stderr, "\n");
                }
                ++t.bad;
            } else {
                ++t.received;
                t.latency.add(static_cast<double>(arrived - p.tsc) * ns_per_cycle);
            }
            rte_pktmbuf_free(in[i]);
        }
    }
    // What is still on its way back.
    const std::uint64_t drain_until = rte_rdtsc() + static_cast<std::uint64_t>(0.02 * hz_);
    while (rte_rdtsc() < drain_until) {
        rte_mbuf* in[burst];
        const std::uint16_t n = rte_eth_rx_burst(port, 0, in, burst);
        for (std::uint16_t i = 0; i < n; ++i) {
            if (took_arp(in[i]))
                continue;
            ++t.received;
            rte_pktmbuf_free(in[i]);
        }
    }
    if (mode_ == Mode::fresh) {
        fresh_next_ += (next_ >> 1) + 1;
        next_ = 0;
    }
    t.seconds = seconds;
    bad_total_ += t.bad;
    return t;
}

Mode parse_mode(const std::string& s) {
    if (s == "dr")
        return Mode::dr;
    if (s == "nat")
        return Mode::nat;
    if (s == "udp")
        return Mode::udp;
    if (s == "new")
        return Mode::fresh;
    if (s == "macswap")
        return Mode::macswap;
    std::fprintf(stderr, "lb_traffic: unknown mode '%s'\n", s.c_str());
    std::exit(2);
}

} // namespace

int main(int argc, char** argv) {
    const int eal = rte_eal_init(argc, argv);
    if (eal < 0) {
        std::fprintf(stderr, "lb_traffic: EAL initialisation failed\n");
        return 1;
    }
    argc -= eal;
    argv += eal;
    if (argc < 3) {
        std::fprintf(stderr,
                     "usage: lb_traffic EAL-ARGS -- dr|nat|udp|new|macswap FLOWS [SECONDS]\n");
        return 2;
    }
    const Mode mode = parse_mode(argv[1]);
    const std::uint64_t flows = std::strtoull(argv[2], nullptr, 10);
    const double seconds = argc > 3 ? std::atof(argv[3]) : 0.3;
    rte_mempool* pool = rte_pktmbuf_pool_create("gen", 32767, 512, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                                static_cast<int>(rte_socket_id()));
    rte_eth_conf conf{};
    if (!pool || rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), nullptr, pool) != 0 ||
        rte_eth_tx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), nullptr) != 0) {
        std::fprintf(stderr, "lb_traffic: cannot set up the port\n");
        return 1;
    }
    // The memif client connects in start: the server (the process under test) may still be
    // starting.
    for (int attempt = 0; rte_eth_dev_start(port) != 0; ++attempt) {
        if (attempt == 200) {
            std::fprintf(stderr, "lb_traffic: cannot connect to the memif server\n");
            return 1;
        }
        rte_delay_ms(50);
    }
    Generator generator(mode, flows, pool);
    if (!generator.start() || !generator.warm_up())
        return 1;
    // The most the generator and the process can move unpaced, then the highest paced rate
    // with at most 0.1% loss, by bisection.
    const Trial blast = generator.trial(0, seconds);
    double lo = 0, hi = static_cast<double>(blast.sent) / seconds;
    double best = blast.loss() <= 0.001 ? blast.rx_mpps() * 1e6 : 0;
    if (best == 0) {
        for (int step = 0; step < 8; ++step) {
            const double mid = (lo + hi) / 2;
            const Trial t = generator.trial(mid, seconds);
            if (t.loss() <= 0.001)
                lo = mid;
            else
                hi = mid;
        }
        best = lo;
    }
    const Trial measured = generator.trial(best * 0.9, seconds);
    // offered: what the generator itself could send unpaced; a result close to it says the
    // generator, not the process under test, was the limit.
    std::printf("RESULT mode=%s flows=%" PRIu64 " mpps=%.3f offered_mpps=%.3f loss_at_90pct=%.5f "
                "p50_us=%.2f p99_us=%.2f verified=%" PRIu64 " bad=%" PRIu64 "\n",
                argv[1], flows, best / 1e6, static_cast<double>(blast.sent) / seconds / 1e6,
                measured.loss(), measured.latency.quantile_us(0.5),
                measured.latency.quantile_us(0.99), measured.received, generator.bad_total());
    rte_eth_dev_stop(port);
    rte_eth_dev_close(port);
    rte_eal_cleanup();
    return generator.bad_total() == 0 ? 0 : 1;
}
