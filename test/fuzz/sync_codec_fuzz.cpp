// The replication codec: arbitrary bytes never crash the decoder, and are decoded twice, once as
// received (almost always refused before the MAC) and once re-signed with the fuzzer's key, so
// that the entry parser sees every body the fuzzer invents. What decodes re-encodes to a
// datagram that decodes to the same entries (decode(encode(d)) == d).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "modules/replication/codec.hpp"

using namespace lb::control::sync;

namespace {

const MessageKey& fuzz_key() {
    static const MessageKey key(std::vector<std::uint8_t>(32, 0x5a));
    return key;
}

const KeyRing& fuzz_keys() {
    static const KeyRing keys{fuzz_key(), std::nullopt};
    return keys;
}

void check_round_trip(const Decoded& d) {
    if (d.error != DecodeError::none || d.header.type != MessageType::entries)
        return;
    DatagramBuilder b;
    b.start(d.header);
    std::vector<Entry> kept;
    for (const auto& e : d.entries) {
        if (!b.add(e))
            break; // a later version's longer entries may not all fit again
        kept.push_back(e);
    }
    const Decoded again = decode_datagram(b.finish(fuzz_key()), fuzz_keys(), d.header.cluster_id);
    if (again.error != DecodeError::none || again.entries != kept)
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    const std::uint32_t cluster =
        size >= 12 ? (std::uint32_t{data[8]} << 24 | std::uint32_t{data[9]} << 16 |
                      std::uint32_t{data[10]} << 8 | data[11])
                   : 1;
    check_round_trip(decode_datagram(input, fuzz_keys(), cluster));
    if (size > max_datagram_size)
        return 0;
    std::vector<std::uint8_t> signed_input(input.begin(), input.end());
    const auto mac = fuzz_key().sign(input);
    if (!mac)
        std::abort(); // OpenSSL could not compute an HMAC: nothing here can go on
    for (auto b : *mac)
        signed_input.push_back(b);
    check_round_trip(decode_datagram(signed_input, fuzz_keys(), cluster));
    return 0;
}
