#include "modules/replication/codec.hpp"

#include <cstring>
#include <stdexcept>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace lb::control::sync {

namespace {

// Entry kinds on the wire. Values are the protocol: never renumber, only add.
enum EntryKind : std::uint8_t {
    kind_connection = 1,
    kind_template = 2,
    kind_ftp_state = 3,
    kind_deletion = 4,
    kind_hello = 16,
    kind_missing_range = 17,
    // 18: version 1's acknowledged epoch, now the header's receiver epoch.
};

// Payload sizes this version writes; a shorter payload of a known kind is malformed, a longer
// one carries fields of a later version (ignored).
constexpr std::size_t flow_size = 13;
constexpr std::size_t service_size = 8;
constexpr std::size_t connection_size = 4 + flow_size - 1 + service_size + 6 + 6 + 4; // 40
constexpr std::size_t connection_sequence_size = 8;
constexpr std::size_t template_size = 4 + 1 + service_size + 6 + 4;   // 23
constexpr std::size_t ftp_state_size = flow_size + 4 + 4 + 4 + 1 + 8; // 34
constexpr std::size_t deletion_size = 1 + flow_size + 4;              // 18 (both forms)
constexpr std::size_t hello_size = 32 + 4 + 8 + 8;
constexpr std::size_t missing_range_size = 10;
constexpr std::size_t max_payload = 64;

class Writer {
  public:
    void u8(std::uint8_t v) { bytes_[size_++] = v; }
    void u16(std::uint16_t v) {
        u8(static_cast<std::uint8_t>(v >> 8));
        u8(static_cast<std::uint8_t>(v));
    }
    void u32(std::uint32_t v) {
        u16(static_cast<std::uint16_t>(v >> 16));
        u16(static_cast<std::uint16_t>(v));
    }
    void u64(std::uint64_t v) {
        u32(static_cast<std::uint32_t>(v >> 32));
        u32(static_cast<std::uint32_t>(v));
    }
    void bytes(std::span<const std::uint8_t> b) {
        std::memcpy(bytes_.data() + size_, b.data(), b.size());
        size_ += b.size();
    }
    // Addresses and ports are kept in network order by the dataplane: their bytes go as they are.
    void address(std::uint32_t network_order) {
        std::memcpy(bytes_.data() + size_, &network_order, 4);
        size_ += 4;
    }
    void port(std::uint16_t network_order) {
        std::memcpy(bytes_.data() + size_, &network_order, 2);
        size_ += 2;
    }
    void endpoint(const Endpoint& e) {
        address(e.address);
        port(e.port);
    }
    void flow(const FlowIdentity& f) {
        u8(f.protocol);
        endpoint(f.client);
        endpoint(f.virtual_endpoint);
    }
    void service(const ServiceIdentity& s) {
        address(s.vip);
        u8(s.protocol);
        u8(s.group ? 1 : 0);
        port(s.port);
    }
    std::span<const std::uint8_t> view() const { return {bytes_.data(), size_}; }

  private:
    std::array<std::uint8_t, max_payload> bytes_{};
    std::size_t size_ = 0;
};

// Reads a payload already known to be long enough: the caller checks the size first.
class Reader {
  public:
    explicit Reader(std::span<const std::uint8_t> b) : b_(b) {}
    std::uint8_t u8() { return b_[at_++]; }
    std::uint16_t u16() {
        const std::uint16_t hi = u8();
        return static_cast<std::uint16_t>((hi << 8) | u8());
    }
    std::uint32_t u32() {
        const std::uint32_t hi = u16();
        return (hi << 16) | u16();
    }
    std::uint64_t u64() {
        const std::uint64_t hi = u32();
        return (hi << 32) | u32();
    }
    std::uint32_t address() {
        std::uint32_t v;
        std::memcpy(&v, b_.data() + at_, 4);
        at_ += 4;
        return v;
    }
    std::uint16_t port() {
        std::uint16_t v;
        std::memcpy(&v, b_.data() + at_, 2);
        at_ += 2;
        return v;
    }
    Endpoint endpoint() {
        Endpoint e;
        e.address = address();
        e.port = port();
        return e;
    }
    FlowIdentity flow() {
        FlowIdentity f;
        f.protocol = u8();
        f.client = endpoint();
        f.virtual_endpoint = endpoint();
        return f;
    }
    ServiceIdentity service() {
        ServiceIdentity s;
        s.vip = address();
        s.protocol = u8();
        s.group = (u8() & 1) != 0;
        s.port = port();
        return s;
    }
    template <std::size_t N> void bytes(std::array<std::uint8_t, N>& out) {
        std::memcpy(out.data(), b_.data() + at_, N);
        at_ += N;
    }

  private:
    std::span<const std::uint8_t> b_;
    std::size_t at_ = 0;
};

struct Encoded {
    std::uint8_t kind;
    Writer payload;
};

Encoded encode(const ConnectionEntry& c) {
    Encoded e{kind_connection, {}};
    Writer& w = e.payload;
    w.u8(c.tcp_state);
    w.u8(c.flags);
    w.u8(c.interface);
    w.flow(c.flow);
    w.service(c.service);
    w.endpoint(c.real_server);
    w.bytes(c.client_mac);
    w.u32(c.remaining_ms);
    if (c.flags & entry_track_sequence) {
        w.u32(c.client_next_seq);
        w.u32(c.client_ack);
    }
    return e;
}

Encoded encode(const TemplateEntry& t) {
    Encoded e{kind_template, {}};
    Writer& w = e.payload;
    w.address(t.client);
    w.u8(t.prefix_length);
    w.service(t.service);
    w.endpoint(t.real_server);
    w.u32(t.remaining_ms);
    return e;
}

Encoded encode(const FtpStateEntry& f) {
    Encoded e{kind_ftp_state, {}};
    Writer& w = e.payload;
    w.flow(f.control);
    w.u32(f.correction_pos);
    w.u32(static_cast<std::uint32_t>(f.offset_before));
    w.u32(static_cast<std::uint32_t>(f.offset_after));
    w.u8(static_cast<std::uint8_t>((f.shift_active ? 1 : 0) | (f.continuation_valid[0] ? 2 : 0) |
                                   (f.continuation_valid[1] ? 4 : 0)));
    w.u32(f.continuation_seq[0]);
    w.u32(f.continuation_seq[1]);
    return e;
}

Encoded encode(const DeletionEntry& d) {
    Encoded e{kind_deletion, {}};
    Writer& w = e.payload;
    w.u8(static_cast<std::uint8_t>(d.kind));
    if (d.kind == DeletedKind::connection) {
        w.flow(d.flow);
    } else {
        w.address(d.client);
        w.u8(d.prefix_length);
        w.service(d.service);
    }
    w.u32(d.idle_ms);
    return e;
}

Encoded encode(const Entry& entry) {
    return std::visit([](const auto& e) { return encode(e); }, entry);
}

// Each reads one entry kind from a payload; false when it is too short for that kind (or holds
// an impossible value).
bool read_connection(std::span<const std::uint8_t> p, Decoded& out) {
    if (p.size() < connection_size)
        return false;
    Reader r(p);
    ConnectionEntry c;
    c.tcp_state = r.u8();
    c.flags = r.u8();
    c.interface = r.u8();
    c.flow = r.flow();
    c.service = r.service();
    c.real_server = r.endpoint();
    r.bytes(c.client_mac);
    c.remaining_ms = r.u32();
    if (c.flags & entry_track_sequence) {
        if (p.size() < connection_size + connection_sequence_size)
            return false;
        c.client_next_seq = r.u32();
        c.client_ack = r.u32();
    }
    out.entries.emplace_back(c);
    return true;
}

bool read_template(std::span<const std::uint8_t> p, Decoded& out) {
    if (p.size() < template_size)
        return false;
    Reader r(p);
    TemplateEntry t;
    t.client = r.address();
    t.prefix_length = r.u8();
    t.service = r.service();
    t.real_server = r.endpoint();
    t.remaining_ms = r.u32();
    if (t.prefix_length > 32)
        return false;
    out.entries.emplace_back(t);
    return true;
}

bool read_ftp_state(std::span<const std::uint8_t> p, Decoded& out) {
    if (p.size() < ftp_state_size)
        return false;
    Reader r(p);
    FtpStateEntry f;
    f.control = r.flow();
    f.correction_pos = r.u32();
    f.offset_before = static_cast<std::int32_t>(r.u32());
    f.offset_after = static_cast<std::int32_t>(r.u32());
    const std::uint8_t bits = r.u8();
    f.shift_active = (bits & 1) != 0;
    f.continuation_valid = {(bits & 2) != 0, (bits & 4) != 0};
    f.continuation_seq[0] = r.u32();
    f.continuation_seq[1] = r.u32();
    out.entries.emplace_back(f);
    return true;
}

bool read_deletion(std::span<const std::uint8_t> p, Decoded& out) {
    if (p.size() < deletion_size)
        return false;
    Reader r(p);
    DeletionEntry d;
    const std::uint8_t what = r.u8();
    if (what == static_cast<std::uint8_t>(DeletedKind::connection)) {
        d.kind = DeletedKind::connection;
        d.flow = r.flow();
    } else if (what == static_cast<std::uint8_t>(DeletedKind::template_binding)) {
        d.kind = DeletedKind::template_binding;
        d.client = r.address();
        d.prefix_length = r.u8();
        d.service = r.service();
        if (d.prefix_length > 32)
            return false;
    } else {
        return false;
    }
    d.idle_ms = r.u32();
    out.entries.emplace_back(d);
    return true;
}

// Decodes one entry; false when a known kind's payload is too short for it. Unknown kinds are
// counted and skipped (a later version's).
bool decode_entry(std::uint8_t kind, std::span<const std::uint8_t> p, Decoded& out) {
    Reader r(p);
    switch (kind) {
    case kind_connection:
        return read_connection(p, out);
    case kind_template:
        return read_template(p, out);
    case kind_ftp_state:
        return read_ftp_state(p, out);
    case kind_deletion:
        return read_deletion(p, out);
    case kind_hello:
        if (p.size() < hello_size)
            return false;
        r.bytes(out.hello.config_digest);
        out.hello.entries_held = r.u32();
        out.hello.stream_start = r.u64();
        out.hello.echo = r.u64();
        return true;
    case kind_missing_range:
        if (p.size() < missing_range_size)
            return false;
        out.ack.missing.push_back({r.u64(), r.u16()});
        return true;
    default:
        ++out.skipped;
        return true;
    }
}

} // namespace

MessageKey::MessageKey(std::vector<std::uint8_t> secret) : secret_(std::move(secret)) {
    if (secret_.size() < min_key_size)
        throw std::invalid_argument(
            fmt::format("the replication key has {} bytes; it needs at least {}", secret_.size(),
                        min_key_size));
}

std::optional<Mac> MessageKey::sign(std::span<const std::uint8_t> message) const {
    std::array<std::uint8_t, EVP_MAX_MD_SIZE> full{};
    unsigned length = 0;
    // HMAC() answers nullptr when OpenSSL cannot compute it (no memory, a FIPS provider that
    // refuses): the buffer would hold zeros, a MAC anyone can forge.
    if (HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()), message.data(),
             message.size(), full.data(), &length) == nullptr ||
        length < mac_size)
        return std::nullopt;
    Mac mac{};
    std::memcpy(mac.data(), full.data(), mac_size);
    return mac;
}

bool MessageKey::verify(std::span<const std::uint8_t> message,
                        std::span<const std::uint8_t, mac_size> mac) const {
    const auto expected = sign(message);
    return expected && CRYPTO_memcmp(expected->data(), mac.data(), mac_size) == 0;
}

bool KeyRing::verify(std::span<const std::uint8_t> message,
                     std::span<const std::uint8_t, mac_size> mac) const {
    return current.verify(message, mac) || (previous && previous->verify(message, mac));
}

NodeId node_id_v4(std::uint32_t address_host_order) {
    NodeId id{};
    id[10] = 0xff;
    id[11] = 0xff;
    for (int i = 0; i < 4; ++i)
        id[12 + static_cast<std::size_t>(i)] =
            static_cast<std::uint8_t>(address_host_order >> (24 - 8 * i));
    return id;
}

DatagramBuilder::DatagramBuilder(std::size_t max_size)
    : max_size_(std::min(max_size, max_datagram_size)) {
    if (max_size_ < header_size + mac_size + 2 + max_payload)
        throw std::invalid_argument(
            fmt::format("a replication datagram of {} bytes cannot hold one entry", max_size));
}

void DatagramBuilder::start(const Header& h) {
    Writer w;
    w.u32(protocol_magic);
    w.u8(protocol_version);
    w.u8(static_cast<std::uint8_t>(h.type));
    w.u8(h.flags);
    w.u8(0);
    w.u32(h.cluster_id);
    w.u64(h.epoch);
    w.u64(h.receiver_epoch);
    w.u64(h.sequence);
    w.u64(h.ack);
    w.u16(0); // body length and count: finish()
    w.u16(0);
    const auto fixed = w.view();
    std::memcpy(buffer_.data(), fixed.data(), fixed.size());
    std::memcpy(buffer_.data() + fixed.size(), h.sender.data(), h.sender.size());
    std::memcpy(buffer_.data() + fixed.size() + 16, h.receiver.data(), h.receiver.size());
    size_ = header_size;
    count_ = 0;
}

bool DatagramBuilder::append(std::uint8_t kind, std::span<const std::uint8_t> payload) {
    if (size_ + 2 + payload.size() + mac_size > max_size_ || count_ == 0xffff)
        return false;
    buffer_[size_++] = kind;
    buffer_[size_++] = static_cast<std::uint8_t>(payload.size());
    std::memcpy(buffer_.data() + size_, payload.data(), payload.size());
    size_ += payload.size();
    ++count_;
    return true;
}

bool DatagramBuilder::add(const Entry& entry) {
    const Encoded e = encode(entry);
    return append(e.kind, e.payload.view());
}

bool DatagramBuilder::add(const Hello& hello) {
    Writer w;
    w.bytes(hello.config_digest);
    w.u32(hello.entries_held);
    w.u64(hello.stream_start);
    w.u64(hello.echo);
    return append(kind_hello, w.view());
}

bool DatagramBuilder::add(const MissingRange& range) {
    Writer w;
    w.u64(range.first);
    w.u16(range.count);
    return append(kind_missing_range, w.view());
}

std::span<const std::uint8_t> DatagramBuilder::finish(const MessageKey& key) {
    const auto body = static_cast<std::uint16_t>(size_ - header_size);
    buffer_[44] = static_cast<std::uint8_t>(body >> 8);
    buffer_[45] = static_cast<std::uint8_t>(body);
    buffer_[46] = static_cast<std::uint8_t>(count_ >> 8);
    buffer_[47] = static_cast<std::uint8_t>(count_);
    const auto mac = key.sign({buffer_.data(), size_});
    if (!mac)
        return {};
    std::memcpy(buffer_.data() + size_, mac->data(), mac_size);
    return {buffer_.data(), size_ + mac_size};
}

const char* decode_error_name(DecodeError e) {
    switch (e) {
    case DecodeError::none:
        return "none";
    case DecodeError::truncated:
        return "truncated";
    case DecodeError::oversized:
        return "oversized";
    case DecodeError::bad_magic:
        return "bad_magic";
    case DecodeError::unknown_version:
        return "unknown_version";
    case DecodeError::wrong_cluster:
        return "wrong_cluster";
    case DecodeError::bad_mac:
        return "bad_mac";
    case DecodeError::unknown_type:
        return "unknown_type";
    case DecodeError::malformed_entry:
        return "malformed_entry";
    }
    return "unknown";
}

ParsedHeader parse_header(std::span<const std::uint8_t> bytes, std::uint32_t cluster_id) {
    ParsedHeader out;
    auto fail = [](DecodeError e) {
        ParsedHeader failed;
        failed.error = e;
        return failed;
    };
    if (bytes.size() < header_size + mac_size)
        return fail(DecodeError::truncated);
    Reader r(bytes.first(header_size));
    if (r.u32() != protocol_magic)
        return fail(DecodeError::bad_magic);
    if (r.u8() != protocol_version)
        return fail(DecodeError::unknown_version);
    const std::uint8_t type = r.u8();
    out.header.flags = r.u8();
    r.u8(); // reserved
    out.header.cluster_id = r.u32();
    out.header.epoch = r.u64();
    out.header.receiver_epoch = r.u64();
    out.header.sequence = r.u64();
    out.header.ack = r.u64();
    out.body_size = r.u16();
    out.count = r.u16();
    r.bytes(out.header.sender);
    r.bytes(out.header.receiver);
    if (bytes.size() < header_size + out.body_size + mac_size)
        return fail(DecodeError::truncated);
    if (bytes.size() > header_size + out.body_size + mac_size)
        return fail(DecodeError::oversized);
    if (out.header.cluster_id != cluster_id)
        return fail(DecodeError::wrong_cluster);
    // The type is checked after the MAC (decode_datagram): an unknown type from a signed peer is
    // a newer version's, worth its own reason; the protocol's checks only need known ones.
    out.header.type = static_cast<MessageType>(type);
    return out;
}

Decoded decode_datagram(std::span<const std::uint8_t> bytes, const KeyRing& keys,
                        std::uint32_t cluster_id) {
    Decoded out;
    auto fail = [&](DecodeError e) {
        Decoded failed;
        failed.error = e;
        return failed;
    };
    const ParsedHeader parsed = parse_header(bytes, cluster_id);
    if (parsed.error != DecodeError::none)
        return fail(parsed.error);
    out.header = parsed.header;
    const std::size_t body = parsed.body_size;
    const auto signed_part = bytes.first(header_size + body);
    if (!keys.verify(signed_part, bytes.subspan(header_size + body).first<mac_size>()))
        return fail(DecodeError::bad_mac);
    const auto type = static_cast<std::uint8_t>(out.header.type);
    if (type < static_cast<std::uint8_t>(MessageType::hello) ||
        type > static_cast<std::uint8_t>(MessageType::ack))
        return fail(DecodeError::unknown_type);
    const std::uint8_t* p = bytes.data() + header_size;
    const std::uint8_t* end = p + body;
    std::size_t seen = 0;
    while (p < end) {
        if (end - p < 2)
            return fail(DecodeError::malformed_entry);
        const std::uint8_t kind = p[0];
        const std::size_t length = p[1];
        if (static_cast<std::size_t>(end - p - 2) < length)
            return fail(DecodeError::malformed_entry);
        if (!decode_entry(kind, {p + 2, length}, out))
            return fail(DecodeError::malformed_entry);
        p += 2 + length;
        ++seen;
    }
    if (seen != parsed.count)
        return fail(DecodeError::malformed_entry);
    return out;
}

std::size_t encoded_size(const Entry& entry) {
    return 2 + encode(entry).payload.view().size();
}

} // namespace lb::control::sync
