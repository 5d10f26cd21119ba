// Bulk sync between two processes (not a test): a sender whose table holds N connections and a
// receiver that starts empty, each a PeerLink on its own UDP socket on the loopback, as two lb
// nodes run it. Prints the time from the receiver's start to "in sync" with every entry applied,
// and entries/s. The receiver's apply hook only counts: installing into the live table is the
// "install" row of bench_sync, per entry, to be added to this. Issue "Session replication" asks
// for 1M entries in at most 2 s.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "modules/replication/peer_link.hpp"
#include "modules/replication/testing/sync_fixtures.hpp"

using namespace lb::control::sync;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::uint16_t sender_port = 48848, receiver_port = 48849;

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
            .count());
}

int udp_socket(std::uint16_t port) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    const int size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        std::perror("bind");
        std::exit(1);
    }
    return fd;
}

// Runs one side until `done` says so (or 60 s pass): sends what the link has, feeds it what
// arrives. Returns false on the time limit.
template <typename Done> bool run(PeerLink& link, int fd, std::uint16_t peer_port, Done done) {
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(peer_port);
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::vector<std::uint8_t> buffer(2048);
    const std::uint64_t give_up = now_ms() + 60'000;
    while (!done()) {
        if (now_ms() > give_up)
            return false;
        for (const auto& d : link.poll(now_ms()))
            sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&peer), sizeof peer);
        bool idle = true;
        for (int i = 0; i < 256; ++i) {
            const ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
            if (n <= 0)
                break;
            idle = false;
            link.receive({buffer.data(), static_cast<std::size_t>(n)}, now_ms());
        }
        if (idle)
            std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return true;
}

// Node `epoch` of two (1 or 2): its identity is 192.0.2.<epoch>, its peer the other one.
PeerLink make_link(std::uint64_t epoch, PeerLink::Hooks hooks) {
    const auto self = static_cast<std::uint32_t>(0xc0000200 + epoch);
    const auto peer = static_cast<std::uint32_t>(0xc0000200 + 3 - epoch);
    return PeerLink(LinkSettings{}, epoch, node_id_v4(self), node_id_v4(peer),
                    KeyRing{MessageKey(std::vector<std::uint8_t>(32, 7)), std::nullopt}, Digest{},
                    std::move(hooks));
}

} // namespace

int main(int argc, char** argv) {
    const std::uint64_t entries = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
    const pid_t child = fork();
    if (child == 0) {
        // The sender: N connections in its "table", dumped by index.
        PeerLink::Hooks hooks;
        hooks.current = [](const Entry& e) { return std::optional<Entry>(e); };
        hooks.dump = [entries](std::uint64_t& cursor, std::vector<Entry>& out) {
            for (int i = 0; i < 256 && cursor < entries; ++i, ++cursor)
                out.emplace_back(lb::test::sample_connection(static_cast<std::uint32_t>(cursor)));
            return cursor < entries;
        };
        hooks.apply = [](const Entry&) {};
        PeerLink link = make_link(1, std::move(hooks));
        const int fd = udp_socket(sender_port);
        // Until the receiver has acknowledged everything (then a little longer for its acks).
        run(link, fd, receiver_port, [&] {
            const LinkStatus s = link.status(now_ms());
            return s.peer_in_sync && s.in_flight == 0;
        });
        std::_Exit(0);
    }
    std::uint64_t applied = 0;
    PeerLink::Hooks hooks;
    hooks.current = [](const Entry& e) { return std::optional<Entry>(e); };
    hooks.dump = [](std::uint64_t&, std::vector<Entry>&) { return false; };
    hooks.apply = [&applied](const Entry&) { ++applied; };
    PeerLink link = make_link(2, std::move(hooks));
    const int fd = udp_socket(receiver_port);
    const auto start = Clock::now();
    const bool finished = run(link, fd, sender_port,
                              [&] { return link.status(now_ms()).state == LinkState::in_sync; });
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    // Keep acknowledging until the sender is satisfied.
    const auto linger = Clock::now() + std::chrono::seconds(2);
    run(link, fd, sender_port, [&] { return Clock::now() > linger; });
    int status = 0;
    waitpid(child, &status, 0);
    const LinkStatus s = link.status(now_ms());
    std::printf("bulk sync between two processes (loopback UDP, PeerLink both sides): %llu "
                "entries %s in %.2f s (%.2fM entries/s), %llu datagrams received\n",
                static_cast<unsigned long long>(applied), finished ? "in sync" : "NOT in sync",
                seconds, static_cast<double>(applied) / seconds / 1e6,
                static_cast<unsigned long long>(s.counters.datagrams_received));
    return finished && applied == entries ? 0 : 1;
}
