// Replication test and benchmark data: connection entries numbered n, distinct per n (the
// client's port is n's low 16 bits, its address counts up from 198.51.100.0 with the rest).
#pragma once

#include <arpa/inet.h>

#include <cstdint>

#include "modules/replication/wire_format.hpp"

namespace lb::test {

inline control::sync::ConnectionEntry sample_connection(std::uint32_t n, std::uint8_t state = 3) {
    control::sync::ConnectionEntry c;
    c.flow = {6,
              {htonl(0xc6336400u + (n >> 16)), htons(static_cast<std::uint16_t>(n))},
              {inet_addr("192.0.2.10"), htons(80)}};
    c.service = {inet_addr("192.0.2.10"), 6, false, htons(80)};
    c.real_server = {inet_addr("203.0.113.11"), htons(8080)};
    c.tcp_state = state;
    c.remaining_ms = 900'000;
    return c;
}

} // namespace lb::test
