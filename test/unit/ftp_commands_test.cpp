#include <catch2/catch.hpp>

#include <cctype>
#include <string>

#include "dataplane/ftp_commands.hpp"
#include "test/fuzz/ftp_every_parser.hpp"

using namespace lb::dataplane::ftp;
using lb::fuzz::parse_with_every_parser;

namespace {

std::string rewrite(const std::string& line, std::uint32_t address) {
    auto r = parse_pasv_reply(line);
    REQUIRE(r);
    char out[max_line + 64];
    const std::size_t n = rewrite_pasv_reply(line, *r, address, out, sizeof(out));
    REQUIRE(n > 0);
    return std::string(out, n);
}

} // namespace

TEST_CASE("227 replies: parsed and rewritten to the VIP, whatever the address lengths") {
    const std::string line = "227 Entering Passive Mode (203,0,113,5,39,16).";
    auto r = parse_pasv_reply(line);
    REQUIRE(r);
    CHECK(r->endpoint.address == 0xcb007105u);
    CHECK(r->endpoint.port == 39 * 256 + 16);
    // 203.0.113.5 → 198.51.100.200: the line grows by three characters.
    CHECK(rewrite(line, 0xc63364c8u) == "227 Entering Passive Mode (198,51,100,200,39,16).");
    // ...and shrinks the other way round.
    CHECK(rewrite("227 Entering Passive Mode (198,51,100,200,39,16)", 0xcb007105u) ==
          "227 Entering Passive Mode (203,0,113,5,39,16)");
    // Without parentheses (RFC 959 does not require them), and in lower case.
    CHECK(rewrite("227 =203,0,113,5,4,1", 0x01020304u) == "227 =1,2,3,4,4,1");
    CHECK(parse_pasv_reply("227 ok 10,0,0,1,0,21")->endpoint.port == 21);
}

TEST_CASE("malformed or overlong 227 replies are not interpreted") {
    for (const char* bad :
         {"227 Entering Passive Mode", "227 (1,2,3,4,5)", "227 (1,2,3,4,5,256)",
          "227 (1,2,3,4,5,6666)", "227 (1,2,3,4,0,0)", "227 (1,2,3,a,5,6)", "2270 (1,2,3,4,5,6)",
          "228 (1,2,3,4,5,6)", "227 (1,,3,4,5,6)", "227 (-1,2,3,4,5,6)",
          "227 Entering Passive Mode (203,0,113,11,39,16,7).", "227 =1,2,3,4,5,6,"}) {
        INFO(bad);
        CHECK_FALSE(parse_pasv_reply(bad));
    }
    CHECK_FALSE(parse_pasv_reply("227 (1,2,3,4,5,6)" + std::string(600, ' ')));
    // A rewrite that does not fit the caller's buffer reports it.
    const std::string line = "227 (1,2,3,4,5,6)";
    char small[8];
    CHECK(rewrite_pasv_reply(line, *parse_pasv_reply(line), 0xc63364c8u, small, sizeof(small)) ==
          0);
}

TEST_CASE("229 replies") {
    CHECK(parse_epsv_reply("229 Entering Extended Passive Mode (|||10001|)") == 10001);
    CHECK(parse_epsv_reply("229 ok (!!!1!)") == 1);
    for (const char* bad : {"229 (|||0|)", "229 (|||65536|)", "229 (||10001|)", "229 (|||x|)",
                            "229 (|||10001)", "229 no parenthesis", "229 (1112221)"}) {
        INFO(bad);
        CHECK_FALSE(parse_epsv_reply(bad));
    }
}

TEST_CASE("PORT and EPRT commands") {
    auto p = parse_port_command("PORT 198,51,100,10,156,64");
    REQUIRE(p);
    CHECK(p->address == 0xc633640au);
    CHECK(p->port == 156 * 256 + 64);
    CHECK(parse_port_command("port 1,2,3,4,0,20")->port == 20);
    auto e = parse_eprt_command("EPRT |1|198.51.100.10|40000|");
    REQUIRE(e);
    CHECK(e->address == 0xc633640au);
    CHECK(e->port == 40000);
    for (const char* bad : {"PORT", "PORT 1,2,3,4,5", "PORT 1,2,3,4,5,6,7", "PORT 1,2,3,4,0,0",
                            "PORT 1,2,3,999,5,6", "PORTS 1,2,3,4,5,6", "PORT 1,2,3,4,5,6x"}) {
        INFO(bad);
        CHECK_FALSE(parse_port_command(bad));
    }
    for (const char* bad : {"EPRT |2|::1|40000|", "EPRT |1|1.2.3|40000|", "EPRT |1|1.2.3.4|0|",
                            "EPRT |1|1.2.3.4|70000|", "EPRT |1|1.2.3.4|40000", "EPRT 1|1.2.3.4|1|",
                            "EPRT |1|1.2.3.4|1|2|"}) {
        INFO(bad);
        CHECK_FALSE(parse_eprt_command(bad));
    }
}

TEST_CASE("a line prefix that may still become a line we rewrite is recognised") {
    for (const char* p : {"", "2", "22", "227", "227 ", "227 Entering", "229 "})
        CHECK(may_become_interesting(p, true));
    for (const char* p : {"1", "150 ", "226 Transfer", "2270"})
        CHECK_FALSE(may_become_interesting(p, true));
    for (const char* p : {"P", "po", "PORT 1,2", "EPR", "EPRT |1|"})
        CHECK(may_become_interesting(p, false));
    for (const char* p : {"RETR x", "PASV", "EPSV"})
        CHECK_FALSE(may_become_interesting(p, false));
}

namespace {

std::string with_case(std::string s, unsigned mask) {
    for (std::size_t i = 0; i < s.size() && i < 32; ++i)
        if ((mask >> i) & 1)
            s[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
    return s;
}

} // namespace

TEST_CASE("regression: a bare EPRT (and every prefix of every line we parse) never throws") {
    // The line that killed the process: "EPRT" alone made parse_eprt_command take substr(5) of
    // a 4-byte line; std::out_of_range escaped the worker.
    CHECK_NOTHROW(parse_eprt_command("EPRT"));
    CHECK_FALSE(parse_eprt_command("EPRT"));
    CHECK_FALSE(parse_eprt_command("eprt"));
    CHECK_FALSE(parse_eprt_command("EPRT "));
    for (const std::string full :
         {"EPRT |1|203.0.113.5|4000|", "PORT 203,0,113,5,15,160", "EPSV", "PASV",
          "227 Entering Passive Mode (203,0,113,5,39,16)",
          "229 Entering Extended Passive Mode (|||6446|)", "227 =1,2,3,4,5,6", "229 (!!!1!)"}) {
        for (std::size_t length = 0; length <= full.size(); ++length) {
            for (unsigned mask : {0u, ~0u, 0x5u, 0xau}) {
                const std::string line = with_case(full.substr(0, length), mask);
                INFO("line: '" << line << "'");
                CHECK_NOTHROW(parse_with_every_parser(line));
                // ... and with trailing blanks, as a client might send.
                CHECK_NOTHROW(parse_with_every_parser(line + " "));
                CHECK_NOTHROW(parse_with_every_parser(line + "  "));
            }
        }
    }
}
