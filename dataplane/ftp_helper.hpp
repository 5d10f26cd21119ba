// The NAT FTP helper, on control connections only (RFC 959, RFC 2428; what the kernel's
// ip_vs_ftp does, with its state kept in the connection so that replication can carry it):
// - server → client: a 227 reply's address (the real server's) is replaced by the VIP, with the
//   byte shift this causes recorded and applied to every later sequence number; 227 and 229
//   replies announce a passive data port: an expectation (client, VIP, *, port) → that server.
// - client → server: acknowledgements and SACK blocks are mapped back through the shift; PORT
//   and EPRT naming the client's own address set up the active data connection (real server
//   port 20 → client), any other address is refused (the FTP bounce attack) and counted.
// A line of interest split across segments is held back: the segment is cut before it, the
// receiver acknowledges only what it got, and the sender retransmits the rest, normally in one
// piece. Malformed lines pass through untouched and are counted.
#pragma once

#include <cstdint>

#include <rte_mbuf.h>

#include "dataplane/counters.hpp"
#include "dataplane/dataplane_context.hpp"
#include "dataplane/ftp_state.hpp"
#include "dataplane/packet_parser.hpp"
#include "dataplane/sync_events.hpp"

namespace lb::dataplane {

class FtpHelper {
  public:
    // `sync`: the worker's replication events (expectations, sequence shifts).
    FtpHelper(DataplaneContext& context, WorkerCounters& counters, SyncEventWriter& sync)
        : ctx_(context), counters_(counters.ftp), sync_(sync) {}

    // Called before the NAT rewrite, with the frame as it arrived. False: the frame must not
    // be forwarded (it carries bytes beyond a line being held back).
    bool from_client(Connection& c, rte_mbuf* m, const ParsedFrame& f, std::uint32_t now);
    bool from_server(Connection& c, rte_mbuf* m, const ParsedFrame& f, std::uint32_t now);

    // The control connection's port was reused for a new TCP session: forget the old one's
    // sequence shift and line state.
    void restart(std::uint32_t ftp_state);

    // The snapshot the worker loaded for the frames it hands over next (its timeouts).
    void use_snapshot(const Snapshot* snapshot) { snapshot_ = snapshot; }

    // A line held back this many times in a row is let go unmodified (a sender that never
    // retransmits it whole must not stall the session).
    static constexpr std::uint8_t max_holds = 4;

  private:
    struct Segment; // the TCP payload being worked on

    // The control connection's helper state with `seg` ready on the frame, or nullptr when
    // the helper has nothing to do (no state, or a frame it cannot edit).
    FtpState* session(const Connection& c, rte_mbuf* m, const ParsedFrame& f, Segment& seg);

    // Walks the complete lines of the payload, letting `on_line` rewrite them (their total
    // change of length in `delta`); holds back a trailing partial line of interest. False when
    // the whole segment lies beyond a held line and must be dropped.
    template <typename OnLine>
    bool walk_lines(FtpState& st, FtpDirection dir, Segment& seg, std::int32_t& delta,
                    OnLine on_line);
    void server_line(const Connection& c, Segment& seg, std::size_t begin, std::size_t end,
                     std::uint32_t now, std::int32_t& delta);
    void client_line(const Connection& c, Segment& seg, std::size_t begin, std::size_t end,
                     std::uint32_t now);
    void expect_passive(const Connection& c, std::uint16_t port, std::uint32_t now);
    void open_active(const Connection& c, std::uint32_t address, std::uint16_t port,
                     std::uint32_t now);

    DataplaneContext& ctx_;
    FtpCounters& counters_;
    SyncEventWriter& sync_;
    const Snapshot* snapshot_ = nullptr;
};

} // namespace lb::dataplane
