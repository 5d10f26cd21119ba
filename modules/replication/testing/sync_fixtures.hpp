// Replication test and benchmark data: connection entries numbered n, distinct per n (the
// client's port is n's low 16 bits, its address counts up from 198.51.100.0 with the rest), and
// a fake live table for the PeerLink's hooks.
#pragma once

#include <arpa/inet.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

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

// A node's table in a test: connections by the client's address and port.
using ClientKey = std::pair<std::uint32_t, std::uint16_t>;
using FakeTable = std::map<ClientKey, control::sync::ConnectionEntry>;

inline ClientKey flow_key(const control::sync::FlowIdentity& f) {
    return {f.client.address, f.client.port};
}

// The PeerLink's `current` hook over such a table: its copy of a connection (nullopt: gone).
inline std::optional<control::sync::Entry> current_in(const FakeTable& table,
                                                      const control::sync::Entry& e) {
    const auto it = table.find(flow_key(std::get<control::sync::ConnectionEntry>(e).flow));
    if (it == table.end())
        return std::nullopt;
    return control::sync::Entry{it->second};
}

// The `dump` hook: the next 50 connections from `cursor`; false once the table is exhausted.
inline bool dump_from(const FakeTable& table, std::uint64_t& cursor,
                      std::vector<control::sync::Entry>& out) {
    auto it = table.begin();
    std::advance(it, static_cast<long>(std::min<std::uint64_t>(cursor, table.size())));
    for (int n = 0; n < 50 && it != table.end(); ++n, ++it, ++cursor)
        out.emplace_back(it->second);
    return it != table.end();
}

} // namespace lb::test
