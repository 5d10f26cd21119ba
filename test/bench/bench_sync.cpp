// Replication codec figures (not a test): bytes per entry on the wire, and the cost per entry of
// building and signing datagrams (sender) and of verifying and decoding them (receiver), beside
// a baseline measured in the same run: copying the same datagrams' bytes. Issue "Session
// replication" asks for at least 1M entries/s each way on one core and at most 64 B per TCP
// connection.
#include <arpa/inet.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

#include "control/sync/codec.hpp"
#include "test/sync_fixtures.hpp"

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

} // namespace

int main() {
    const MessageKey key(std::vector<std::uint8_t>(32, 0x42));
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
        decoded += decode_datagram(d, key, h.cluster_id).entries.size();
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
    std::printf("  baseline (copy the same bytes): %6.2f ns/entry\n", baseline);
    return 0;
}
