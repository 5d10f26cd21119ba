#include "modules/vrrp/packet.hpp"

namespace lb::control::vrrp {

namespace {

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
    for (std::size_t i = 0; i + 1 < n; i += 2)
        sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
    if (n % 2)
        sum += static_cast<std::uint32_t>(p[n - 1] << 8);
    return sum;
}

std::uint16_t fold(std::uint32_t sum) {
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

// v3: over the IPv4 pseudo-header and the message; v2: over the message alone.
std::uint16_t checksum(const std::uint8_t* p, std::size_t n, std::uint8_t version,
                       std::uint32_t source, std::uint32_t destination) {
    std::uint32_t sum = 0;
    if (version == 3) {
        sum += source >> 16;
        sum += source & 0xffff;
        sum += destination >> 16;
        sum += destination & 0xffff;
        sum += ip_protocol;
        sum += static_cast<std::uint32_t>(n);
    }
    return fold(sum16(p, n, sum));
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8)
        out.push_back(static_cast<std::uint8_t>(v >> s));
}

} // namespace

std::uint16_t internet_checksum(const std::uint8_t* p, std::size_t n) {
    return fold(sum16(p, n));
}

const char* to_string(Discard d) {
    switch (d) {
    case Discard::truncated:
        return "truncated";
    case Discard::bad_version:
        return "bad_version";
    case Discard::bad_type:
        return "bad_type";
    case Discard::bad_checksum:
        return "bad_checksum";
    case Discard::bad_ttl:
        return "bad_ttl";
    case Discard::wrong_vrid:
        return "wrong_vrid";
    case Discard::bad_authentication:
        return "bad_authentication";
    case Discard::bad_address_count:
        return "bad_address_count";
    case Discard::wrong_interval:
        return "wrong_interval";
    case Discard::not_a_peer:
        return "not_a_peer";
    }
    return "?";
}

std::vector<std::uint8_t> encode(const Message& m, std::uint32_t source,
                                 std::uint32_t destination) {
    std::vector<std::uint8_t> out;
    out.push_back(static_cast<std::uint8_t>(m.version << 4 | 1)); // type 1: advertisement
    out.push_back(m.vrid);
    out.push_back(m.priority);
    out.push_back(static_cast<std::uint8_t>(m.addresses.size()));
    if (m.version == 3) {
        out.push_back(static_cast<std::uint8_t>((m.interval_centiseconds >> 8) & 0x0f));
        out.push_back(static_cast<std::uint8_t>(m.interval_centiseconds & 0xff));
    } else {
        out.push_back(m.password.empty() ? 0 : 1); // auth type: none or simple text
        out.push_back(static_cast<std::uint8_t>(m.interval_centiseconds / 100));
    }
    out.push_back(0); // checksum, filled below
    out.push_back(0);
    for (auto a : m.addresses)
        put32(out, a);
    if (m.version == 2) {
        std::array<std::uint8_t, 8> auth{};
        for (std::size_t i = 0; i < m.password.size() && i < 8; ++i)
            auth[i] = static_cast<std::uint8_t>(m.password[i]);
        out.insert(out.end(), auth.begin(), auth.end());
    }
    const std::uint16_t c = checksum(out.data(), out.size(), m.version, source, destination);
    out[6] = static_cast<std::uint8_t>(c >> 8);
    out[7] = static_cast<std::uint8_t>(c & 0xff);
    return out;
}

std::variant<Message, Discard> decode(const std::uint8_t* p, std::size_t n, std::uint32_t source,
                                      std::uint32_t destination, std::uint8_t ttl,
                                      const Expectation& e) {
    if (ttl != required_ttl)
        return Discard::bad_ttl; // RFC 5798 5.1.1.3: from beyond the link
    if (n < 8)
        return Discard::truncated;
    Message m;
    m.version = p[0] >> 4;
    if (m.version != e.version)
        return Discard::bad_version;
    if ((p[0] & 0x0f) != 1)
        return Discard::bad_type;
    const std::size_t count = p[3];
    const std::size_t needed = 8 + 4 * count + (m.version == 2 ? 8 : 0);
    if (n < needed)
        return Discard::truncated;
    if (checksum(p, needed, m.version, source, destination) != 0)
        return Discard::bad_checksum;
    m.vrid = p[1];
    if (m.vrid != e.vrid)
        return Discard::wrong_vrid;
    m.priority = p[2];
    if (count == 0 || (e.address_count != 0 && count != e.address_count && m.priority != 255))
        return Discard::bad_address_count;
    for (std::size_t i = 0; i < count; ++i) {
        const std::uint8_t* a = p + 8 + 4 * i;
        m.addresses.push_back(std::uint32_t{a[0]} << 24 | std::uint32_t{a[1]} << 16 |
                              std::uint32_t{a[2]} << 8 | a[3]);
    }
    if (m.version == 3) {
        m.interval_centiseconds = static_cast<std::uint16_t>((p[4] & 0x0f) << 8 | p[5]);
    } else {
        const std::uint8_t auth_type = p[4];
        m.interval_centiseconds = static_cast<std::uint16_t>(p[5] * 100);
        const std::uint8_t* auth = p + 8 + 4 * count;
        // Authentication data means something only with type 1 (RFC 3768 5.3.6.1: ignored
        // otherwise). Read anyway, a router without a password would take stray bytes for one
        // and announce them with type 1 (the fuzzer's find).
        std::string password;
        for (int i = 0; auth_type == 1 && i < 8 && auth[i]; ++i)
            password += static_cast<char>(auth[i]);
        if ((auth_type == 1) != !e.password.empty() ||
            (auth_type == 1 && password != e.password.substr(0, 8)) || auth_type > 1)
            return Discard::bad_authentication;
        m.password = password;
        if (m.interval_centiseconds != e.interval_centiseconds)
            return Discard::wrong_interval;
    }
    return m;
}

} // namespace lb::control::vrrp
