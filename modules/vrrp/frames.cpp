#include "modules/vrrp/frames.hpp"

#include <algorithm>

namespace lb::control::vrrp {

namespace {

constexpr std::size_t ethernet_header = 14;
constexpr std::size_t ipv4_header = 20;
constexpr std::size_t minimum_frame = 60; // without the FCS

void put16(std::vector<std::uint8_t>& f, std::size_t at, std::uint16_t v) {
    f[at] = static_cast<std::uint8_t>(v >> 8);
    f[at + 1] = static_cast<std::uint8_t>(v);
}

void put32(std::vector<std::uint8_t>& f, std::size_t at, std::uint32_t v) {
    put16(f, at, static_cast<std::uint16_t>(v >> 16));
    put16(f, at + 2, static_cast<std::uint16_t>(v));
}

std::uint32_t get32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

void put_ethernet(std::vector<std::uint8_t>& f, const Mac& destination, const Mac& source,
                  std::uint16_t type) {
    std::copy(destination.begin(), destination.end(), f.begin());
    std::copy(source.begin(), source.end(), f.begin() + 6);
    put16(f, 12, type);
}

} // namespace

std::vector<std::uint8_t> advert_frame(const Message& m, const Mac& source_mac,
                                       const Mac& destination_mac, std::uint32_t source,
                                       std::uint32_t destination) {
    const std::vector<std::uint8_t> payload = encode(m, source, destination);
    std::vector<std::uint8_t> f(
        std::max(minimum_frame, ethernet_header + ipv4_header + payload.size()), 0);
    put_ethernet(f, destination_mac, source_mac, 0x0800);
    std::uint8_t* ip = f.data() + ethernet_header;
    ip[0] = 0x45;
    ip[1] = 0xc0; // precedence "internetwork control", as routing protocols (and keepalived) use
    put16(f, ethernet_header + 2, static_cast<std::uint16_t>(ipv4_header + payload.size()));
    ip[8] = required_ttl;
    ip[9] = ip_protocol;
    put32(f, ethernet_header + 12, source);
    put32(f, ethernet_header + 16, destination);
    put16(f, ethernet_header + 10, internet_checksum(ip, ipv4_header));
    std::copy(payload.begin(), payload.end(), f.begin() + ethernet_header + ipv4_header);
    return f;
}

std::vector<std::uint8_t> gratuitous_arp_frame(const Mac& mac, std::uint32_t address) {
    std::vector<std::uint8_t> f(minimum_frame, 0);
    put_ethernet(f, broadcast_mac, mac, 0x0806);
    std::size_t at = ethernet_header;
    put16(f, at, 1);          // Ethernet
    put16(f, at + 2, 0x0800); // IPv4
    f[at + 4] = 6;
    f[at + 5] = 4;
    put16(f, at + 6, 1); // request
    std::copy(mac.begin(), mac.end(), f.begin() + static_cast<std::ptrdiff_t>(at + 8));
    put32(f, at + 14, address);
    put32(f, at + 24, address); // target hardware address (18..23) stays zero
    return f;
}

std::optional<ReceivedPacket> received_packet(const std::uint8_t* frame, std::size_t length) {
    if (length < ethernet_header + ipv4_header)
        return std::nullopt;
    const std::uint8_t* ip = frame + ethernet_header;
    const std::size_t header = (ip[0] & 0x0f) * 4u;
    const std::size_t total = std::size_t{ip[2]} << 8 | ip[3];
    if (header < ipv4_header || total < header || ethernet_header + total > length)
        return std::nullopt;
    ReceivedPacket p;
    p.ttl = ip[8];
    p.source = get32(ip + 12);
    p.destination = get32(ip + 16);
    p.payload = ip + header;
    p.length = total - header;
    return p;
}

} // namespace lb::control::vrrp
