// The replication protocol on the wire: one UDP datagram is an 80-byte header, entries, and a
// 16-byte MAC (HMAC-SHA256 keyed by `replication.key_file`, truncated to 128 bits as RFC 4868
// does for IPsec) over both. Every entry is kind, length, payload: a receiver skips kinds it
// does not know and ignores trailing fields it does not know, so a newer sender's optional
// fields do not break an older receiver. Datagrams never exceed the link's MTU (no fragments).
//
//   0 magic "LBSY"  4 version (2)  5 type  6 flags  7 reserved (0)  8 cluster id
//  12 sender epoch  20 receiver epoch  28 sequence  36 ack (all 64 bits)
//  44 body length  46 entry count  48 sender node (16)  64 receiver node (16)  80 body ... MAC
//
// Decoding checks, in order: size, magic, version, lengths, cluster id (parse_header: no
// cryptography, so the protocol can refuse by its own rules before paying for a MAC), then the
// MAC, then the entries; the first failure is the reason the datagram is dropped (counted by the
// caller), and nothing of a datagram that fails is used. Control side only: it may allocate,
// never throws on input.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "modules/replication/wire_format.hpp"

namespace lb::control::sync {

constexpr std::size_t header_size = 80;
constexpr std::size_t mac_size = 16;
// An Ethernet MTU less the IPv4 and UDP headers: the largest datagram that is never fragmented
// on the replication link.
constexpr std::size_t max_datagram_size = 1500 - 20 - 8;
constexpr std::size_t min_key_size = 32;

using Mac = std::array<std::uint8_t, mac_size>;

// The shared secret. Throws std::invalid_argument when shorter than min_key_size bytes.
class MessageKey {
  public:
    explicit MessageKey(std::vector<std::uint8_t> secret);
    // nullopt when the MAC could not be computed: never a datagram with a made-up MAC.
    std::optional<Mac> sign(std::span<const std::uint8_t> message) const;
    // Constant time, so a forger learns nothing from how long a refusal takes. False when the
    // MAC could not be computed.
    bool verify(std::span<const std::uint8_t> message,
                std::span<const std::uint8_t, mac_size> mac) const;
    bool operator==(const MessageKey&) const = default;

  private:
    std::vector<std::uint8_t> secret_;
};

// The keys a node accepts: `key_file`'s, which it also signs with, and during a rotation
// `previous_key_file`'s (README, "Rotating the replication key").
struct KeyRing {
    MessageKey current;
    std::optional<MessageKey> previous;

    bool verify(std::span<const std::uint8_t> message,
                std::span<const std::uint8_t, mac_size> mac) const;
};

// Fills one datagram: start() with the header, add entries while they fit, then finish().
class DatagramBuilder {
  public:
    explicit DatagramBuilder(std::size_t max_size = max_datagram_size);

    void start(const Header& header);
    // False when the entry does not fit: the datagram is unchanged, send it and start another.
    bool add(const Entry& entry);
    bool add(const Hello& hello);
    bool add(const MissingRange& range);
    std::size_t entries() const { return count_; }
    bool empty() const { return count_ == 0; }
    // Writes the lengths and the MAC; the bytes stay valid until the next start(). Empty when
    // the MAC could not be computed (nothing to send).
    std::span<const std::uint8_t> finish(const MessageKey& key);

  private:
    bool append(std::uint8_t kind, std::span<const std::uint8_t> payload);

    std::size_t max_size_;
    std::array<std::uint8_t, max_datagram_size> buffer_{};
    std::size_t size_ = 0;
    std::uint16_t count_ = 0;
};

enum class DecodeError : std::uint8_t {
    none,
    truncated,       // shorter than a header and a MAC, or than its own lengths say
    oversized,       // longer than its own lengths say
    bad_magic,       // not ours at all
    unknown_version, // a protocol version this lb does not speak
    wrong_cluster,   // another pair's traffic (cluster_id differs)
    bad_mac,         // not signed with our key, or altered
    unknown_type,    // a message type this version does not know
    malformed_entry, // an entry shorter than its kind needs
};
constexpr std::size_t decode_error_count = 9;
const char* decode_error_name(DecodeError e);

// The header alone, checked for size, magic, version, lengths and cluster id.
struct ParsedHeader {
    DecodeError error = DecodeError::none;
    Header header;
    std::size_t body_size = 0;
    std::size_t count = 0;
};
ParsedHeader parse_header(std::span<const std::uint8_t> bytes, std::uint32_t cluster_id);

struct Decoded {
    DecodeError error = DecodeError::none;
    Header header;
    std::vector<Entry> entries; // MessageType::entries
    Hello hello;                // MessageType::hello
    Ack ack;                    // MessageType::ack
    unsigned skipped = 0;       // entries of kinds this version does not know
};

Decoded decode_datagram(std::span<const std::uint8_t> bytes, const KeyRing& keys,
                        std::uint32_t cluster_id);

// Bytes one entry takes in a datagram (kind and length included): for the benchmark and for
// sizing batches.
std::size_t encoded_size(const Entry& entry);

} // namespace lb::control::sync
