// The replication codec (modules/replication/codec.hpp): every entry kind round-trips, datagrams
// stay under the MTU, and every way a datagram can be wrong is refused by its own reason with
// nothing of it used (issue "Session replication", acceptance 9 and 10).
#include <catch2/catch.hpp>

#include <arpa/inet.h>

#include <vector>

#include "modules/replication/codec.hpp"

using namespace lb::control::sync;

namespace {

// push_back rather than insert: g++ 12 reports a false -Warray-bounds on vector::insert here.
void append(std::vector<std::uint8_t>& to, std::span<const std::uint8_t> bytes) {
    for (auto b : bytes)
        to.push_back(b);
}

MessageKey test_key(std::uint8_t fill = 7) {
    return MessageKey(std::vector<std::uint8_t>(32, fill));
}

KeyRing ring(std::uint8_t fill = 7) {
    return {test_key(fill), std::nullopt};
}

FlowIdentity flow(std::uint16_t client_port) {
    return {
        6, {inet_addr("198.51.100.7"), htons(client_port)}, {inet_addr("192.0.2.10"), htons(80)}};
}

ConnectionEntry connection(std::uint16_t client_port, bool track_sequence) {
    ConnectionEntry c;
    c.flow = flow(client_port);
    c.service = {inet_addr("192.0.2.10"), 6, false, htons(80)};
    c.real_server = {inet_addr("203.0.113.11"), htons(8080)};
    c.tcp_state = 3;
    c.flags = entry_nat | (track_sequence ? entry_track_sequence : 0);
    c.interface = 1;
    c.client_mac = {0x02, 0, 0, 0, 0, 0x2a};
    c.remaining_ms = 899'500;
    if (track_sequence) {
        c.client_next_seq = 0xfffffff0;
        c.client_ack = 12345;
    }
    return c;
}

std::vector<Entry> one_of_each() {
    TemplateEntry t{inet_addr("198.51.100.0"),
                    24,
                    {inet_addr("192.0.2.10"), 6, true, htons(20)},
                    {inet_addr("203.0.113.12"), 0},
                    360'000};
    FtpStateEntry f;
    f.control = flow(40000);
    f.correction_pos = 0x80000001;
    f.offset_before = -3;
    f.offset_after = 5;
    f.shift_active = true;
    f.continuation_valid = {false, true};
    f.continuation_seq = {0, 777};
    DeletionEntry gone_connection;
    gone_connection.flow = flow(40001);
    gone_connection.idle_ms = 901'000;
    DeletionEntry gone_template;
    gone_template.kind = DeletedKind::template_binding;
    gone_template.client = inet_addr("198.51.100.0");
    gone_template.prefix_length = 24;
    gone_template.service = t.service;
    return {
        connection(40000, false), connection(40002, true), t, f, gone_connection, gone_template};
}

std::vector<std::uint8_t> datagram(const Header& h, const std::vector<Entry>& entries,
                                   const MessageKey& key) {
    DatagramBuilder b;
    b.start(h);
    for (const auto& e : entries)
        REQUIRE(b.add(e));
    const auto bytes = b.finish(key);
    return {bytes.begin(), bytes.end()};
}

Header entries_header() {
    Header h;
    h.type = MessageType::entries;
    h.flags = flag_bulk;
    h.cluster_id = 9;
    h.epoch = 0x0123456789abcdefULL;
    h.receiver_epoch = 0xfedcba9876543210ULL;
    h.sequence = (1ULL << 32) + 41; // 64 bits on the wire: past 2^32 without wrapping
    h.ack = 17;
    h.sender = node_id_v4(0xc0000201);   // 192.0.2.1
    h.receiver = node_id_v4(0xc0000202); // 192.0.2.2
    return h;
}

} // namespace

TEST_CASE("sync codec: every entry kind round-trips with the header") {
    const auto key = test_key();
    const auto entries = one_of_each();
    const auto bytes = datagram(entries_header(), entries, key);
    const Decoded d = decode_datagram(bytes, ring(), 9);
    REQUIRE(d.error == DecodeError::none);
    CHECK(d.header == entries_header());
    CHECK(d.entries == entries);
    CHECK(d.skipped == 0);
}

TEST_CASE("sync codec: hello and acknowledgements round-trip") {
    const auto key = test_key();
    DatagramBuilder b;
    Header h;
    h.type = MessageType::hello;
    h.flags = flag_in_sync;
    h.cluster_id = 1;
    h.epoch = 5;
    b.start(h);
    Hello hello;
    hello.config_digest.fill(0xab);
    hello.entries_held = 20'000;
    hello.stream_start = (1ULL << 31) + 5;
    REQUIRE(b.add(hello));
    auto bytes = b.finish(key);
    Decoded d = decode_datagram(bytes, ring(), 1);
    REQUIRE(d.error == DecodeError::none);
    CHECK(d.header.type == MessageType::hello);
    CHECK(d.hello == hello);

    h.type = MessageType::ack;
    h.ack = 100;
    b.start(h);
    REQUIRE(b.add(MissingRange{102, 3}));
    REQUIRE(b.add(MissingRange{(1ULL << 32) + 110, 1}));
    bytes = b.finish(key);
    d = decode_datagram(bytes, ring(), 1);
    REQUIRE(d.error == DecodeError::none);
    CHECK(d.header.ack == 100);
    CHECK(d.ack.missing == std::vector<MissingRange>{{102, 3}, {(1ULL << 32) + 110, 1}});
}

TEST_CASE("sync codec: a TCP connection takes at most 64 bytes, a datagram fits the MTU") {
    CHECK(encoded_size(connection(1, false)) == 42);
    CHECK(encoded_size(connection(1, true)) == 50);
    const auto key = test_key();
    DatagramBuilder b;
    b.start(entries_header());
    std::uint16_t port = 1;
    while (b.add(connection(port, true)))
        ++port;
    CHECK(b.entries() == (max_datagram_size - header_size - mac_size) / 50);
    const auto bytes = b.finish(key);
    CHECK(bytes.size() <= max_datagram_size);
    // What an entry costs on the wire, the header and MAC shared out (issue 21: at most 56).
    CHECK(bytes.size() / b.entries() <= 56);
    const Decoded d = decode_datagram(bytes, ring(), 9);
    REQUIRE(d.error == DecodeError::none);
    CHECK(d.entries.size() == b.entries());
}

TEST_CASE("sync codec: every wrong datagram is refused by its reason, nothing of it used") {
    const auto key = test_key();
    const auto good = datagram(entries_header(), one_of_each(), key);
    auto refused = [&](std::vector<std::uint8_t> bytes, std::uint32_t cluster = 9) {
        const Decoded d = decode_datagram(bytes, ring(), cluster);
        CHECK(d.entries.empty());
        return d.error;
    };
    CHECK(refused({good.begin(), good.begin() + 20}) == DecodeError::truncated);
    CHECK(refused({good.begin(), good.end() - 1}) == DecodeError::truncated);
    auto longer = good;
    longer.push_back(0);
    CHECK(refused(longer) == DecodeError::oversized);
    auto magic = good;
    magic[0] ^= 1;
    CHECK(refused(magic) == DecodeError::bad_magic);
    auto version = good;
    version[4] = 1; // version 1 (32-bit sequences, no identities) is not spoken any more
    CHECK(refused(version) == DecodeError::unknown_version);
    CHECK(refused(good, 10) == DecodeError::wrong_cluster);
    // Type, epoch, receiver epoch, sequence, sender and receiver identities, body, MAC: all
    // covered.
    for (std::size_t at : {std::size_t{5}, std::size_t{13}, std::size_t{21}, std::size_t{35},
                           std::size_t{60}, std::size_t{79}, header_size + 5, good.size() - 1}) {
        auto altered = good;
        altered[at] ^= 0x40;
        CHECK(refused(altered) == DecodeError::bad_mac);
    }
    const auto other_key = test_key(8);
    CHECK(decode_datagram(datagram(entries_header(), one_of_each(), other_key), ring(), 9).error ==
          DecodeError::bad_mac);
}

TEST_CASE("sync codec: during a key rotation both keys are accepted, no other") {
    const auto by_old = datagram(entries_header(), one_of_each(), test_key(1));
    const auto by_new = datagram(entries_header(), one_of_each(), test_key(2));
    const KeyRing rotating{test_key(2), test_key(1)};
    CHECK(decode_datagram(by_old, rotating, 9).error == DecodeError::none);
    CHECK(decode_datagram(by_new, rotating, 9).error == DecodeError::none);
    CHECK(decode_datagram(by_old, ring(2), 9).error == DecodeError::bad_mac);
    CHECK(decode_datagram(by_new, KeyRing{test_key(3), test_key(1)}, 9).error ==
          DecodeError::bad_mac);
}

TEST_CASE("sync codec: the header alone is read without the key") {
    const auto good = datagram(entries_header(), one_of_each(), test_key());
    const ParsedHeader p = parse_header(good, 9);
    REQUIRE(p.error == DecodeError::none);
    CHECK(p.header == entries_header());
    CHECK(p.count == one_of_each().size());
    CHECK(parse_header(good, 8).error == DecodeError::wrong_cluster);
}

TEST_CASE("sync codec: signed but malformed bodies are refused; unknown kinds are skipped") {
    const auto key = test_key();
    // Builds a signed datagram around a hand-made body, as a buggy or newer peer would send.
    auto signed_body = [&](std::vector<std::uint8_t> body, std::uint16_t count,
                           std::uint8_t type = 2) {
        DatagramBuilder b;
        b.start(entries_header());
        auto bytes = b.finish(key); // header only, to copy
        std::vector<std::uint8_t> d(bytes.begin(), bytes.begin() + header_size);
        d[5] = type;
        append(d, body);
        d[44] = static_cast<std::uint8_t>(body.size() >> 8);
        d[45] = static_cast<std::uint8_t>(body.size());
        d[46] = static_cast<std::uint8_t>(count >> 8);
        d[47] = static_cast<std::uint8_t>(count);
        const auto mac = key.sign(d);
        REQUIRE(mac);
        append(d, *mac);
        return d;
    };
    CHECK(decode_datagram(signed_body({1, 3, 0, 0, 0}, 1), ring(), 9).error ==
          DecodeError::malformed_entry); // a connection of 3 bytes
    CHECK(decode_datagram(signed_body({1, 40}, 1), ring(), 9).error ==
          DecodeError::malformed_entry); // a length past the body
    CHECK(decode_datagram(signed_body({}, 1), ring(), 9).error == DecodeError::malformed_entry);
    CHECK(decode_datagram(signed_body({}, 0, 9), ring(), 9).error == DecodeError::unknown_type);
    const Decoded newer = decode_datagram(signed_body({200, 2, 0xaa, 0xbb}, 1), ring(), 9);
    CHECK(newer.error == DecodeError::none);
    CHECK(newer.skipped == 1);
}

TEST_CASE("sync codec: a later version's trailing fields are ignored") {
    const auto key = test_key();
    // A template entry with 3 more bytes than this version writes.
    DatagramBuilder b;
    b.start(entries_header());
    TemplateEntry t{inet_addr("198.51.100.0"),
                    24,
                    {inet_addr("192.0.2.10"), 6, false, htons(80)},
                    {inet_addr("203.0.113.12"), htons(80)},
                    1000};
    REQUIRE(b.add(t));
    auto bytes = b.finish(key);
    std::vector<std::uint8_t> d(bytes.begin(), bytes.end() - mac_size);
    d[header_size + 1] += 3; // the entry's length
    append(d, std::vector<std::uint8_t>{1, 2, 3});
    const std::size_t body = d.size() - header_size;
    d[44] = static_cast<std::uint8_t>(body >> 8);
    d[45] = static_cast<std::uint8_t>(body);
    const auto mac = key.sign(d);
    REQUIRE(mac);
    append(d, *mac);
    const Decoded decoded = decode_datagram(d, ring(), 9);
    REQUIRE(decoded.error == DecodeError::none);
    REQUIRE(decoded.entries.size() == 1);
    CHECK(std::get<TemplateEntry>(decoded.entries[0]) == t);
}

TEST_CASE("sync codec: a short key is refused with a message saying how long it must be") {
    CHECK_THROWS_WITH(MessageKey(std::vector<std::uint8_t>(31, 1)),
                      "the replication key has 31 bytes; it needs at least 32");
}
