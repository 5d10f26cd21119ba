// The VRRP codec: arbitrary bytes decoded against arbitrary expectations never crash, and what
// decodes re-encodes to a message that decodes to the same thing (decode(encode(m)) == m).
#include <cstdint>
#include <cstdlib>
#include <variant>

#include "modules/vrrp/packet.hpp"

using namespace lb::control::vrrp;

namespace {

bool same(const Message& a, const Message& b) {
    return a.version == b.version && a.vrid == b.vrid && a.priority == b.priority &&
           a.interval_centiseconds == b.interval_centiseconds && a.addresses == b.addresses &&
           a.password == b.password;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The first bytes choose the expectation and the IP header's view; the rest is the message.
    if (size < 8)
        return 0;
    Expectation e;
    e.version = (data[0] & 1) ? 3 : 2;
    e.vrid = data[1];
    e.address_count = data[2] & 3;
    e.interval_centiseconds = static_cast<std::uint16_t>((data[3] % 5) * 100);
    const std::uint8_t ttl = (data[0] & 2) ? 255 : data[4];
    const std::uint32_t source = 0xc6336402u + data[5];
    const std::uint32_t destination = (data[0] & 4) ? multicast_group : 0xc6336403u;
    const std::size_t password_length = data[6] % 10;
    data += 7;
    size -= 7;
    if (e.version == 2 && password_length > 0 && password_length <= size) {
        e.password.assign(reinterpret_cast<const char*>(data), password_length);
        data += password_length;
        size -= password_length;
    }
    const auto decoded = decode(data, size, source, destination, ttl, e);
    if (const auto* m = std::get_if<Message>(&decoded)) {
        const auto wire = encode(*m, source, destination);
        const auto again = decode(wire.data(), wire.size(), source, destination, 255, e);
        const auto* m2 = std::get_if<Message>(&again);
        if (!m2 || !same(*m, *m2))
            std::abort();
    }
    return 0;
}
