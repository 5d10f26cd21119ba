// The NAT FTP helper on crafted control-connection frames.
#include <catch2/catch.hpp>

#include "test/packet/worker_harness.hpp"

using namespace lb::test;
using lb::dataplane::DropReason;

namespace {

constexpr std::uint32_t vip = ipv4(198, 51, 100, 100);
constexpr std::uint32_t client = ipv4(198, 51, 100, 10);
constexpr std::uint32_t rs = ipv4(203, 0, 113, 11);

// Port 21 only: passive data ports are reachable through the helper's expectations alone.
const std::string ftp_config = std::string(two_interfaces) + R"(services:
  - name: ftp
    vip: 198.51.100.100
    port: 21
    scheduler: rr
    real_servers:
      - {address: 203.0.113.11}
)";

struct FtpSession : WorkerHarness {
    FtpSession() : WorkerHarness(ftp_config) {
        resolve(rs, rs1_mac, 1);
        REQUIRE(send(ipv4_frame(from_client(0, RTE_TCP_SYN_FLAG))).size() == 1);
    }
    static L4 from_client(std::uint32_t seq, std::uint8_t flags, const std::string& data = "",
                          std::uint32_t ack = 0) {
        L4 p;
        p.src = client;
        p.dst = vip;
        p.sport = 40000;
        p.dport = 21;
        p.seq = seq;
        p.ack = ack;
        p.tcp_flags = flags;
        p.data = data;
        return p;
    }
    static L4 from_server(std::uint32_t seq, const std::string& data, std::uint8_t flags = 0x18) {
        L4 p;
        p.src = rs;
        p.dst = client;
        p.sport = 21;
        p.dport = 40000;
        p.seq = seq;
        p.ack = 1;
        p.tcp_flags = flags;
        p.data = data;
        p.src_mac = rs1_mac;
        p.dst_mac = port1_mac;
        return p;
    }
    // One frame from the server; returns what reached the client.
    Bytes server_says(std::uint32_t seq, const std::string& data) {
        auto out = send(ipv4_frame(from_server(seq, data)), 1);
        REQUIRE(out.size() == 1);
        return out[0].frame;
    }
    const lb::dataplane::FtpCounters& ftp() const { return counters().ftp; }
};

bool checksums_ok(Bytes& f) {
    if (rte_ipv4_cksum(ip_of(f)) != 0)
        return false;
    auto* tcp = tcp_of(f);
    const std::uint16_t carried = tcp->cksum;
    tcp->cksum = 0;
    const std::uint16_t full = rte_ipv4_udptcp_cksum(ip_of(f), tcp);
    tcp->cksum = carried;
    return carried == full;
}

} // namespace

TEST_CASE("227: the real server's address becomes the VIP and later bytes are renumbered") {
    FtpSession s;
    const std::string reply = "227 Entering Passive Mode (203,0,113,11,39,16).\r\n";
    Bytes out = s.server_says(1000, reply);
    CHECK(tcp_payload(out) == "227 Entering Passive Mode (198,51,100,100,39,16).\r\n");
    CHECK(rte_be_to_cpu_32(tcp_of(out)->sent_seq) == 1000);
    CHECK(rte_be_to_cpu_32(ip_of(out)->src_addr) == vip); // NAT still applied after the helper
    CHECK(checksums_ok(out));
    CHECK(s.ftp().pasv_rewritten.read() == 1);
    // The next server bytes are 2 further on for the client...
    Bytes next = s.server_says(1000 + reply.size(), "150 Here comes the listing.\r\n");
    CHECK(rte_be_to_cpu_32(tcp_of(next)->sent_seq) == 1000 + reply.size() + 2);
    CHECK(checksums_ok(next));
    // ...and the client's acknowledgement of them is mapped back for the server.
    auto ack = s.send(
        ipv4_frame(FtpSession::from_client(1, RTE_TCP_ACK_FLAG, "", 1000 + reply.size() + 2 + 29)));
    REQUIRE(ack.size() == 1);
    CHECK(rte_be_to_cpu_32(tcp_of(ack[0].frame)->recv_ack) == 1000 + reply.size() + 29);
    CHECK(checksums_ok(ack[0].frame));
    // A retransmission of the rewritten reply is rewritten again, without shifting twice.
    Bytes again = s.server_says(1000, reply);
    CHECK(tcp_payload(again) == "227 Entering Passive Mode (198,51,100,100,39,16).\r\n");
    Bytes later = s.server_says(1000 + reply.size() + 29, "226 Done.\r\n");
    CHECK(rte_be_to_cpu_32(tcp_of(later)->sent_seq) == 1000 + reply.size() + 29 + 2);
}

TEST_CASE("227 and 229 announce the passive data port: the client's SYN goes to that server") {
    FtpSession s;
    s.server_says(1000, "227 Entering Passive Mode (203,0,113,11,39,16).\r\n");
    L4 data = FtpSession::from_client(0, RTE_TCP_SYN_FLAG);
    data.sport = 40001;
    data.dport = 10000; // 39 * 256 + 16: not a service port
    auto out = s.send(ipv4_frame(data));
    REQUIRE(out.size() == 1);
    CHECK(rte_be_to_cpu_32(ip_of(out[0].frame)->dst_addr) == rs);
    CHECK(rte_be_to_cpu_16(tcp_of(out[0].frame)->dst_port) == 10000);
    // Another client gets nothing there.
    L4 stranger = data;
    stranger.src = ipv4(198, 51, 100, 11);
    CHECK(s.send(ipv4_frame(stranger)).empty());
    CHECK(s.drops(DropReason::no_service) == 1);
    // EPSV.
    s.server_says(2000, "229 Entering Extended Passive Mode (|||10050|)\r\n");
    data.sport = 40002;
    data.dport = 10050;
    CHECK(s.send(ipv4_frame(data)).size() == 1);
    CHECK(s.ftp().expectations.read() == 2);
}

TEST_CASE("227 naming the VIP already is left alone") {
    FtpSession s;
    Bytes out = s.server_says(1000, "227 Entering Passive Mode (198,51,100,100,39,16).\r\n");
    CHECK(tcp_payload(out) == "227 Entering Passive Mode (198,51,100,100,39,16).\r\n");
    CHECK(s.ftp().pasv_unchanged.read() == 1);
    CHECK(s.ftp().pasv_rewritten.read() == 0);
}

TEST_CASE("PORT and EPRT with the client's address open the active data connection") {
    FtpSession s;
    const std::string port = GENERATE(as<std::string>{}, "PORT 198,51,100,10,156,64\r\n",
                                      "EPRT |1|198.51.100.10|40000|\r\n");
    auto cmd = s.send(ipv4_frame(FtpSession::from_client(1, 0x18, port, 1)));
    REQUIRE(cmd.size() == 1);
    CHECK(tcp_payload(cmd[0].frame) == port); // commands pass unchanged
    CHECK(s.ftp().active_connections.read() == 1);
    // The real server connects from its port 20: the client sees VIP:20.
    L4 syn = FtpSession::from_server(5000, "", RTE_TCP_SYN_FLAG);
    syn.sport = 20;
    syn.dport = 40000;
    auto out = s.send(ipv4_frame(syn), 1);
    REQUIRE(out.size() == 1);
    CHECK(rte_be_to_cpu_32(ip_of(out[0].frame)->src_addr) == vip);
    CHECK(rte_be_to_cpu_16(tcp_of(out[0].frame)->src_port) == 20);
    CHECK(client_mac == eth_of(out[0].frame)->dst_addr);
}

TEST_CASE("regression: an active data port announced again to the same server is reused") {
    // Found by CI: curl's kernel-chosen data port came round again while the earlier data
    // connection to the same real server was still in the table; it was counted not_rewritable.
    FtpSession s;
    L4 syn = FtpSession::from_server(5000, "", RTE_TCP_SYN_FLAG);
    syn.sport = 20;
    syn.dport = 40000;
    std::uint32_t seq = 1;
    for (const char* cmd : {"PORT 198,51,100,10,156,64\r\n", "EPRT |1|198.51.100.10|40000|\r\n"}) {
        const std::string line = cmd;
        REQUIRE(s.send(ipv4_frame(FtpSession::from_client(seq, 0x18, line, 1))).size() == 1);
        seq += static_cast<std::uint32_t>(line.size());
        auto out = s.send(ipv4_frame(syn), 1);
        REQUIRE(out.size() == 1);
        CHECK(rte_be_to_cpu_32(ip_of(out[0].frame)->src_addr) == vip);
    }
    CHECK(s.ftp().not_rewritable.read() == 0);
    CHECK(s.ftp().active_connections.read() == 1);
}

TEST_CASE("PORT naming another address (FTP bounce) is refused and counted") {
    FtpSession s;
    s.send(ipv4_frame(FtpSession::from_client(1, 0x18, "PORT 192,0,2,99,0,80\r\n", 1)));
    CHECK(s.ftp().bounce_refused.read() == 1);
    CHECK(s.ftp().active_connections.read() == 0);
    L4 syn = FtpSession::from_server(5000, "", RTE_TCP_SYN_FLAG);
    syn.sport = 20;
    syn.dst = ipv4(192, 0, 2, 99);
    syn.dport = 80;
    CHECK(s.send(ipv4_frame(syn), 1).empty());
}

TEST_CASE("a reply split across segments is held back until it arrives whole") {
    const std::string reply = "227 Entering Passive Mode (203,0,113,11,39,16).\r\n";
    for (std::size_t cut = 1; cut < reply.size() - 1; ++cut) {
        INFO("cut at " << cut);
        FtpSession s;
        // The first piece leaves without the partial line: the client acknowledges nothing of
        // it, and the server retransmits the whole line.
        Bytes first = s.server_says(1000, reply.substr(0, cut));
        CHECK(tcp_payload(first).empty());
        CHECK(checksums_ok(first));
        Bytes whole = s.server_says(1000, reply);
        CHECK(tcp_payload(whole) == "227 Entering Passive Mode (198,51,100,100,39,16).\r\n");
        CHECK(s.ftp().split_lines_held.read() == 1);
    }
}

TEST_CASE("malformed and overlong replies and commands pass untouched and are counted") {
    FtpSession s;
    const char* replies[] = {"227 Entering Passive Mode (203,0,113,11,39).\r\n",
                             "227 Entering Passive Mode (203,0,113,x,39,16).\r\n",
                             "229 Entering Extended Passive Mode (|||99999|)\r\n"};
    std::uint32_t seq = 1000;
    for (const char* r : replies) {
        Bytes out = s.server_says(seq, r);
        CHECK(tcp_payload(out) == r);
        seq += static_cast<std::uint32_t>(std::strlen(r));
    }
    CHECK(s.ftp().malformed.read() == 3);
    const std::string overlong = "227 " + std::string(600, '1') + "\r\n";
    Bytes out = s.server_says(seq, overlong);
    CHECK(tcp_payload(out) == overlong);
    CHECK(s.ftp().malformed.read() == 4);
    s.send(ipv4_frame(FtpSession::from_client(1, 0x18, "PORT 1,2,3\r\n", 1)));
    s.send(ipv4_frame(FtpSession::from_client(13, 0x18, "EPRT |1|1.2.3.4|0|\r\n", 1)));
    CHECK(s.ftp().malformed.read() == 6);
    // The session still works.
    s.server_says(seq + static_cast<std::uint32_t>(overlong.size()),
                  "227 Entering Passive Mode (203,0,113,11,39,16).\r\n");
    CHECK(s.ftp().pasv_rewritten.read() == 1);
}

TEST_CASE("a passive port announced again by another real server goes to the newest one") {
    WorkerHarness h(std::string(two_interfaces) + R"(services:
  - name: ftp
    vip: 198.51.100.100
    port: 21
    scheduler: rr
    real_servers:
      - {address: 203.0.113.11}
      - {address: 203.0.113.12}
)");
    const std::uint32_t rs2 = ipv4(203, 0, 113, 12);
    h.resolve(rs, rs1_mac, 1);
    h.resolve(rs2, rs2_mac, 1);
    // Two sessions of one client: rr puts the first on rs1, the second on rs2.
    for (std::uint16_t sport : {40000, 40001}) {
        L4 syn = FtpSession::from_client(0, RTE_TCP_SYN_FLAG);
        syn.sport = sport;
        REQUIRE(h.send(ipv4_frame(syn)).size() == 1);
    }
    auto announce = [&](std::uint32_t server, std::uint16_t session_port) {
        L4 reply =
            FtpSession::from_server(1000, "227 Entering Passive Mode (203,0,113," +
                                              std::to_string(server & 0xff) + ",39,16).\r\n");
        reply.src = server;
        reply.dport = session_port;
        reply.src_mac = server == rs ? rs1_mac : rs2_mac;
        REQUIRE(h.send(ipv4_frame(reply), 1).size() == 1);
    };
    announce(rs, 40000);
    announce(rs2, 40001); // the same port 10000, now on rs2
    L4 data = FtpSession::from_client(0, RTE_TCP_SYN_FLAG);
    data.sport = 40002;
    data.dport = 10000;
    auto out = h.send(ipv4_frame(data));
    REQUIRE(out.size() == 1);
    CHECK(rte_be_to_cpu_32(ip_of(out[0].frame)->dst_addr) == rs2);
}

TEST_CASE("while a line is held back, later bytes of that direction are not forwarded") {
    FtpSession s;
    const std::string reply = "227 Entering Passive Mode (203,0,113,11,39,16).\r\n";
    CHECK(tcp_payload(s.server_says(1000, reply.substr(0, 16))).empty());
    // The rest, sent before the retransmission: the client must not receive it out of order.
    CHECK(s.send(ipv4_frame(FtpSession::from_server(1016, reply.substr(16))), 1).empty());
    // A pure ACK from the server still passes.
    CHECK(s.send(ipv4_frame(FtpSession::from_server(1016, "", RTE_TCP_ACK_FLAG)), 1).size() == 1);
    // The retransmission carries the whole line.
    CHECK(tcp_payload(s.server_says(1000, reply)) ==
          "227 Entering Passive Mode (198,51,100,100,39,16).\r\n");
    // Afterwards the stream flows again, renumbered.
    Bytes next = s.server_says(1000 + reply.size(), "150 ok\r\n");
    CHECK(rte_be_to_cpu_32(tcp_of(next)->sent_seq) == 1000 + reply.size() + 2);
}

TEST_CASE("a line its sender never sends whole is let go unmodified after a few holds") {
    FtpSession s;
    const std::string part = "227 Entering Passive";
    for (int i = 0; i < lb::dataplane::FtpHelper::max_holds; ++i)
        CHECK(tcp_payload(s.server_says(1000, part)).empty());
    CHECK(tcp_payload(s.server_says(1000, part)) == part);
    CHECK(s.ftp().not_rewritable.read() == 1);
    // The rest of the line then passes as a continuation.
    CHECK(tcp_payload(s.server_says(1000 + part.size(), " Mode (203,0,113,11,39,16).\r\n")) ==
          " Mode (203,0,113,11,39,16).\r\n");
}

TEST_CASE("a control connection's port reused for a new session starts with a clean helper") {
    FtpSession s;
    const std::string reply = "227 Entering Passive Mode (203,0,113,11,39,16).\r\n";
    s.server_says(1000, reply); // the old session is now shifted by 2
    // A line held back in the old session as well.
    CHECK(tcp_payload(s.server_says(1000 + reply.size(), "227 Entering")).empty());
    // The client closes; later it opens a new session from the same port.
    REQUIRE(s.send(ipv4_frame(FtpSession::from_client(5, RTE_TCP_FIN_FLAG | RTE_TCP_ACK_FLAG)))
                .size() == 1);
    REQUIRE(s.send(ipv4_frame(FtpSession::from_client(90000, RTE_TCP_SYN_FLAG))).size() == 1);
    // The new session's numbers pass untouched, and nothing of it is held back or dropped.
    Bytes banner = s.server_says(5000, "220 welcome\r\n");
    CHECK(rte_be_to_cpu_32(tcp_of(banner)->sent_seq) == 5000);
    CHECK(tcp_payload(banner) == "220 welcome\r\n");
    Bytes later = s.server_says(5000 + 13, "230 ok\r\n");
    CHECK(rte_be_to_cpu_32(tcp_of(later)->sent_seq) == 5013);
}

TEST_CASE("an active data port reused with another real server goes to the newest session") {
    WorkerHarness h(std::string(two_interfaces) + R"(services:
  - name: ftp
    vip: 198.51.100.100
    port: 21
    scheduler: rr
    real_servers:
      - {address: 203.0.113.11}
      - {address: 203.0.113.12}
)");
    const std::uint32_t rs2 = ipv4(203, 0, 113, 12);
    h.resolve(rs, rs1_mac, 1);
    h.resolve(rs2, rs2_mac, 1);
    for (std::uint16_t sport : {40000, 40001}) { // rr: rs1, then rs2
        L4 syn = FtpSession::from_client(0, RTE_TCP_SYN_FLAG);
        syn.sport = sport;
        REQUIRE(h.send(ipv4_frame(syn)).size() == 1);
        L4 port = FtpSession::from_client(1, 0x18, "PORT 198,51,100,10,156,64\r\n", 1);
        port.sport = sport;
        REQUIRE(h.send(ipv4_frame(port)).size() == 1);
    }
    L4 syn = FtpSession::from_server(5000, "", RTE_TCP_SYN_FLAG);
    syn.src = rs2;
    syn.src_mac = rs2_mac;
    syn.sport = 20;
    syn.dport = 40000; // 156 * 256 + 64
    auto out = h.send(ipv4_frame(syn), 1);
    REQUIRE(out.size() == 1);
    CHECK(rte_be_to_cpu_32(ip_of(out[0].frame)->src_addr) == vip);
}

TEST_CASE("regression: a bare EPRT or PORT (any case, any length up to the keyword) is passed "
          "on and counted; the worker survives") {
    // "EPRT" alone once made the helper take substr(5) of a 4-byte line: std::out_of_range
    // escaped the worker and the whole process died.
    FtpSession s;
    std::uint32_t seq = 1;
    std::uint64_t malformed = 0;
    for (const std::string line :
         {"EPRT",  "eprt",   "EpRt",    "EPRT ",    "EPRT  ", "PORT", "port",
          "PORT ", "EPRT |", "EPRT ||", "EPRT |1|", "EPSV",   "PASV", "E",
          "EP",    "EPR",    "P",       "PO",       "POR",    ""}) {
        INFO("line: '" << line << "'");
        const std::string data = line + "\r\n";
        auto out = s.send(ipv4_frame(FtpSession::from_client(seq, 0x18, data, 1)));
        REQUIRE(out.size() == 1);
        CHECK(tcp_payload(out[0].frame) == data);
        seq += static_cast<std::uint32_t>(data.size());
        const bool ours =
            line.size() >= 4 && (line.substr(0, 4) == "EPRT" || line.substr(0, 4) == "eprt" ||
                                 line.substr(0, 4) == "EpRt" || line.substr(0, 4) == "PORT" ||
                                 line.substr(0, 4) == "port");
        if (ours)
            ++malformed;
        CHECK(s.ftp().malformed.read() == malformed);
    }
    // The session still works.
    s.server_says(1000, "227 Entering Passive Mode (203,0,113,11,39,16).\r\n");
    CHECK(s.ftp().pasv_rewritten.read() == 1);
}
