#include <catch2/catch.hpp>

#include "dataplane/tcp_seq_adjust.hpp"

using namespace lb::dataplane;

TEST_CASE("sequence adjustment after a payload rewrite") {
    SeqAdjust a;
    CHECK(a.map_seq(1000) == 1000);
    CHECK(a.map_ack(1000) == 1000);
    // The segment at 1000 (60 bytes) grew by 3.
    a.record(1000, 3);
    CHECK(a.map_seq(1000) == 1000); // the rewritten segment itself starts where it did
    CHECK(a.map_seq(1060) == 1063); // later bytes are shifted
    // The peer acknowledges in the shifted numbering; the sender must see its own.
    CHECK(a.map_ack(1063) == 1060);
    CHECK(a.map_ack(1000) == 1000);
    // A retransmission of the rewritten segment changes nothing.
    a.record(1000, 3);
    CHECK(a.map_seq(1060) == 1063);
    // A second rewrite, shrinking by 2, at 2000.
    a.record(2000, -2);
    CHECK(a.map_seq(1500) == 1503);
    CHECK(a.map_seq(2000) == 2003);
    CHECK(a.map_seq(2100) == 2101);
    CHECK(a.map_ack(2101) == 2100);
    CHECK(a.map_ack(1503) == 1500);
}

TEST_CASE("sequence adjustment across the 2^32 wrap") {
    SeqAdjust a;
    const std::uint32_t near_end = 0xfffffff0u;
    a.record(near_end, 5);
    CHECK(a.map_seq(near_end) == near_end);
    CHECK(a.map_seq(0x10) == 0x15);               // wrapped, after the correction
    CHECK(a.map_seq(0xfffffffau) == 0xffffffffu); // still before the wrap
    CHECK(a.map_seq(0xfffffffeu) == 0x3u);        // shifted across it
    CHECK(a.map_ack(0x15) == 0x10);
    CHECK(a.map_ack(0x3u) == 0xfffffffeu);
    // A retransmission of an earlier segment (before the correction) does not count.
    a.record(0xffffffe0u, 5);
    CHECK(a.map_seq(0x10) == 0x15);
}
