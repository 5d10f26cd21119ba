#include "dataplane/ftp_helper.hpp"

#include <cstring>
#include <string_view>

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include "dataplane/ftp_commands.hpp"

namespace lb::dataplane {

namespace {

constexpr std::uint32_t expectation_timeout_ms = 60'000;

// Holds a session's lock for a scope.
class SessionLock {
  public:
    explicit SessionLock(FtpState& s) : lock_(s.lock) { rte_spinlock_lock(&lock_); }
    ~SessionLock() { rte_spinlock_unlock(&lock_); }
    SessionLock(const SessionLock&) = delete;
    SessionLock& operator=(const SessionLock&) = delete;

  private:
    rte_spinlock_t& lock_;
};

} // namespace

// The TCP payload of one frame, editable in place: lengths and checksums are fixed in finish().
struct FtpHelper::Segment {
    rte_mbuf* m = nullptr;
    rte_ipv4_hdr* ip = nullptr;
    rte_tcp_hdr* tcp = nullptr;
    char* payload = nullptr;
    std::size_t length = 0;
    std::uint32_t headers = 0; // IP and TCP header bytes
    bool changed = false;

    // False for frames the helper cannot edit (chained buffers).
    bool init(rte_mbuf* frame, const ParsedFrame& f) {
        if (frame->nb_segs != 1)
            return false;
        m = frame;
        ip = f.ip;
        tcp = reinterpret_cast<rte_tcp_hdr*>(f.l4);
        const std::uint32_t ip_header = (ip->version_ihl & 0x0f) * 4u;
        const std::uint32_t tcp_header = (tcp->data_off >> 4) * 4u;
        headers = ip_header + tcp_header;
        payload = reinterpret_cast<char*>(tcp) + tcp_header;
        length = rte_be_to_cpu_16(ip->total_length) - headers;
        // Drop Ethernet padding so that the payload ends where the buffer does.
        const std::uint32_t frame_length =
            sizeof(rte_ether_hdr) + rte_be_to_cpu_16(ip->total_length);
        if (rte_pktmbuf_pkt_len(m) > frame_length)
            rte_pktmbuf_trim(m, static_cast<std::uint16_t>(rte_pktmbuf_pkt_len(m) - frame_length));
        return true;
    }

    bool replace(std::size_t begin, std::size_t end, const char* bytes, std::size_t n) {
        const std::ptrdiff_t grow =
            static_cast<std::ptrdiff_t>(n) - static_cast<std::ptrdiff_t>(end - begin);
        if (grow > 0) {
            if (rte_pktmbuf_tailroom(m) < grow || length + grow > 65535 - headers)
                return false;
            rte_pktmbuf_append(m, static_cast<std::uint16_t>(grow));
        }
        std::memmove(payload + begin + n, payload + end, length - end);
        std::memcpy(payload + begin, bytes, n);
        if (grow < 0)
            rte_pktmbuf_trim(m, static_cast<std::uint16_t>(-grow));
        length = static_cast<std::size_t>(static_cast<std::ptrdiff_t>(length) + grow);
        changed = true;
        return true;
    }

    // Keeps only the first `at` bytes; the rest will come again (retransmitted).
    void truncate(std::size_t at) {
        rte_pktmbuf_trim(m, static_cast<std::uint16_t>(length - at));
        length = at;
        tcp->tcp_flags &= static_cast<std::uint8_t>(~RTE_TCP_FIN_FLAG); // the FIN follows the cut
        changed = true;
    }

    void finish() {
        if (!changed)
            return;
        ip->total_length = rte_cpu_to_be_16(static_cast<std::uint16_t>(headers + length));
        ip->hdr_checksum = 0;
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        tcp->cksum = 0;
        tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
    }
};

template <typename OnLine>
bool FtpHelper::walk_lines(FtpState& st, FtpDirection dir, Segment& seg, std::int32_t& delta,
                           OnLine on_line) {
    delta = 0;
    const std::uint32_t seq = rte_be_to_cpu_32(seg.tcp->sent_seq);
    const std::uint32_t sender_end = seq + static_cast<std::uint32_t>(seg.length);
    if (seg.length == 0)
        return true;
    // While a line is held back, bytes after its start must not reach the receiver: it would
    // acknowledge them selectively and the sender would retransmit only the line's first part.
    if (st.held_valid[dir] && seq_after(seq, st.held_seq[dir])) {
        counters_.split_lines_held.add();
        return false;
    }
    const bool covers_held = st.held_valid[dir] && seq_after(sender_end, st.held_seq[dir]);
    std::size_t pos = 0;
    if (st.continuation_valid[dir] && seq == st.continuation_seq[dir]) {
        // This segment continues a line we did not care about: skip to its end.
        const void* nl = std::memchr(seg.payload, '\n', seg.length);
        if (!nl) {
            st.continuation_seq[dir] = sender_end;
            return true;
        }
        pos = static_cast<std::size_t>(static_cast<const char*>(nl) - seg.payload) + 1;
    }
    st.continuation_valid[dir] = false;
    bool held_again = false;
    while (pos < seg.length) {
        const void* found = std::memchr(seg.payload + pos, '\n', seg.length - pos);
        if (!found) {
            const std::string_view rest(seg.payload + pos, seg.length - pos);
            // The line's start in the sender's numbering (rewrites before it moved `pos`).
            const std::uint32_t line_seq =
                seq + static_cast<std::uint32_t>(static_cast<std::int64_t>(pos) - delta);
            const bool same_line = st.held_valid[dir] && st.held_seq[dir] == line_seq;
            if (rest.size() < ftp::max_line &&
                ftp::may_become_interesting(rest, dir == ftp_from_server) &&
                !(same_line && st.held_count[dir] >= max_holds)) {
                seg.truncate(pos);
                st.held_count[dir] = same_line ? st.held_count[dir] + 1 : 1;
                st.held_seq[dir] = line_seq;
                st.held_valid[dir] = true;
                held_again = true;
                counters_.split_lines_held.add();
            } else {
                if (same_line)
                    counters_.not_rewritable.add(); // the sender never sent it whole: let go
                st.continuation_seq[dir] = sender_end;
                st.continuation_valid[dir] = true;
            }
            break;
        }
        const std::size_t newline =
            static_cast<std::size_t>(static_cast<const char*>(found) - seg.payload);
        const std::size_t end =
            newline > pos && seg.payload[newline - 1] == '\r' ? newline - 1 : newline;
        const std::int32_t line_delta = on_line(pos, end);
        delta += line_delta;
        pos = static_cast<std::size_t>(static_cast<std::int64_t>(newline) + 1 + line_delta);
    }
    if (covers_held && !held_again)
        st.held_valid[dir] = false; // the held line came whole (or was let go)
    return true;
}

void FtpHelper::expect_passive(const Connection& c, std::uint16_t port, std::uint32_t now) {
    ConnectionSpec e;
    e.key.src_ip = c.key.src_ip;
    e.key.dst_ip = c.key.dst_ip;
    e.key.src_port = 0; // any: the client picks it
    e.key.dst_port = rte_cpu_to_be_16(port);
    e.key.protocol = IPPROTO_TCP;
    e.rs_address = c.rs_address;
    e.rs_port = rte_cpu_to_be_16(port);
    e.service = c.service;
    e.real_server = c.real_server;
    e.ingress = c.ingress;
    e.flags = conn_expectation;
    std::memcpy(e.client_mac, c.client_mac, 6);
    std::uint32_t index = 0;
    InsertResult r =
        ctx_.connections->insert(e, TcpState::none, now, expectation_timeout_ms, &index);
    if (r == InsertResult::already_exists) {
        // The port was announced to this client before, maybe by another real server (ports
        // are reused): the newest announcement wins.
        if (auto hit = ctx_.connections->lookup(e.key)) {
            Connection& old = ctx_.connections->at(hit->index);
            if (old.rs_address == e.rs_address && old.real_server == e.real_server) {
                old.touch(now);
            } else {
                ctx_.connections->remove(hit->index);
                r = ctx_.connections->insert(e, TcpState::none, now, expectation_timeout_ms,
                                             &index);
            }
        }
    }
    if (r != InsertResult::inserted && r != InsertResult::already_exists) {
        counters_.not_rewritable.add();
        return;
    }
    if (r == InsertResult::inserted)
        sync_.connection(index); // the standby must know where the data connection goes
    counters_.expectations.add();
}

void FtpHelper::open_active(const Connection& c, std::uint32_t address, std::uint16_t port,
                            std::uint32_t now) {
    // The real server connects from its control port - 1 (20) to the client; the client sees
    // it come from VIP:20.
    ConnectionSpec d;
    d.key.src_ip = rte_cpu_to_be_32(address);
    d.key.dst_ip = c.key.dst_ip;
    d.key.src_port = rte_cpu_to_be_16(port);
    d.key.dst_port =
        rte_cpu_to_be_16(static_cast<std::uint16_t>(rte_be_to_cpu_16(c.key.dst_port) - 1));
    d.key.protocol = IPPROTO_TCP;
    d.rs_address = c.rs_address;
    d.rs_port = rte_cpu_to_be_16(static_cast<std::uint16_t>(rte_be_to_cpu_16(c.rs_port) - 1));
    d.service = c.service;
    d.real_server = c.real_server;
    d.ingress = c.ingress;
    d.flags = conn_nat;
    std::memcpy(d.client_mac, c.client_mac, 6);
    const TimeoutsMs& t = snapshot_->timeouts;
    InsertResult r = ctx_.connections->insert(d, TcpState::syn_sent, now, t.tcp_syn);
    if (r == InsertResult::already_exists) {
        // The client reuses a data port it had used before, maybe with another real server
        // (a session on another server, still in the table while it closes): the new PORT wins.
        if (auto hit = ctx_.connections->lookup(d.key)) {
            Connection& old = ctx_.connections->at(hit->index);
            if (old.rs_address == d.rs_address && old.rs_port == d.rs_port) {
                old.touch(now);
                return;
            }
            if (ctx_.connections->remove(hit->index))
                ctx_.load->add(old.real_server, -1);
            r = ctx_.connections->insert(d, TcpState::syn_sent, now, t.tcp_syn);
        }
    }
    if (r == InsertResult::inserted) {
        ctx_.load->add(d.real_server, 1);
        counters_.active_connections.add();
    } else if (r != InsertResult::already_exists) {
        counters_.not_rewritable.add();
    }
}

void FtpHelper::server_line(const Connection& c, Segment& seg, std::size_t begin, std::size_t end,
                            std::uint32_t now, std::int32_t& delta) {
    delta = 0;
    const std::string_view line(seg.payload + begin, end - begin);
    switch (ftp::classify_server_line(line)) {
    case ftp::Kind::pasv_reply: {
        const auto reply = ftp::parse_pasv_reply(line);
        if (!reply) {
            counters_.malformed.add();
            return;
        }
        expect_passive(c, reply->endpoint.port, now);
        const std::uint32_t vip = rte_be_to_cpu_32(c.key.dst_ip);
        if (reply->endpoint.address == vip) {
            counters_.pasv_unchanged.add();
            return;
        }
        char rewritten[ftp::max_line + 32];
        const std::size_t n =
            ftp::rewrite_pasv_reply(line, *reply, vip, rewritten, sizeof(rewritten));
        if (n == 0 || !seg.replace(begin, end, rewritten, n)) {
            counters_.not_rewritable.add();
            return;
        }
        delta = static_cast<std::int32_t>(n) - static_cast<std::int32_t>(end - begin);
        counters_.pasv_rewritten.add();
        return;
    }
    case ftp::Kind::epsv_reply:
        if (const auto port = ftp::parse_epsv_reply(line))
            expect_passive(c, *port, now);
        else
            counters_.malformed.add();
        return;
    default:
        return;
    }
}

void FtpHelper::client_line(const Connection& c, Segment& seg, std::size_t begin, std::size_t end,
                            std::uint32_t now) {
    const std::string_view line(seg.payload + begin, end - begin);
    const ftp::Kind kind = ftp::classify_client_line(line);
    if (kind != ftp::Kind::port_command && kind != ftp::Kind::eprt_command)
        return;
    const auto endpoint = kind == ftp::Kind::port_command ? ftp::parse_port_command(line)
                                                          : ftp::parse_eprt_command(line);
    if (!endpoint) {
        counters_.malformed.add();
        return;
    }
    if (endpoint->address != rte_be_to_cpu_32(c.key.src_ip)) {
        counters_.bounce_refused.add(); // the server must not connect to a third party for us
        return;
    }
    open_active(c, endpoint->address, endpoint->port, now);
}

void FtpHelper::restart(std::uint32_t index) {
    FtpState& st = ctx_.ftp_states->at(index);
    SessionLock lock(st);
    st.reset();
}

FtpState* FtpHelper::session(const Connection& c, rte_mbuf* m, const ParsedFrame& f, Segment& seg) {
    const std::uint32_t index = c.ftp_state.load(std::memory_order_acquire);
    if (index == no_ftp_state)
        return nullptr;
    if (!seg.init(m, f)) {
        counters_.not_rewritable.add();
        return nullptr;
    }
    return &ctx_.ftp_states->at(index);
}

bool FtpHelper::from_server(Connection& c, rte_mbuf* m, const ParsedFrame& f, std::uint32_t now) {
    Segment seg;
    FtpState* state = session(c, m, f, seg);
    if (!state)
        return true;
    const std::uint32_t seq = rte_be_to_cpu_32(seg.tcp->sent_seq);
    std::uint32_t mapped = seq;
    {
        SessionLock lock(*state);
        std::int32_t delta = 0;
        if (!walk_lines(*state, ftp_from_server, seg, delta,
                        [&](std::size_t begin, std::size_t end) {
                            std::int32_t d = 0;
                            server_line(c, seg, begin, end, now, d);
                            return d;
                        }))
            return false;
        const SeqAdjust before = state->server_stream;
        state->server_stream.record(seq, delta);
        mapped = state->server_stream.map_seq(seq);
        if (state->server_stream.correction_pos != before.correction_pos ||
            state->server_stream.offset_after != before.offset_after)
            sync_.ftp_state(ctx_.connections->index_of(c)); // the shift the standby must apply
    }
    if (mapped != seq) {
        seg.tcp->sent_seq = rte_cpu_to_be_32(mapped);
        seg.changed = true;
    }
    seg.finish();
    return true;
}

bool FtpHelper::from_client(Connection& c, rte_mbuf* m, const ParsedFrame& f, std::uint32_t now) {
    Segment seg;
    FtpState* state = session(c, m, f, seg);
    if (!state)
        return true;
    SeqAdjust shift;
    {
        SessionLock lock(*state);
        std::int32_t unused = 0;
        if (!walk_lines(*state, ftp_from_client, seg, unused,
                        [&](std::size_t begin, std::size_t end) {
                            client_line(c, seg, begin, end, now);
                            return std::int32_t{0};
                        }))
            return false;
        shift = state->server_stream;
    }
    if (!shift.active) {
        seg.finish();
        return true;
    }
    auto map = [&](std::uint8_t* field) {
        std::uint32_t v;
        std::memcpy(&v, field, 4);
        const std::uint32_t mapped = rte_cpu_to_be_32(shift.map_ack(rte_be_to_cpu_32(v)));
        if (mapped != v) {
            std::memcpy(field, &mapped, 4);
            seg.changed = true;
        }
    };
    if (seg.tcp->tcp_flags & RTE_TCP_ACK_FLAG)
        map(reinterpret_cast<std::uint8_t*>(&seg.tcp->recv_ack));
    // SACK blocks (option 5) acknowledge ranges of the shifted stream too.
    auto* option = reinterpret_cast<std::uint8_t*>(seg.tcp + 1);
    auto* options_end = reinterpret_cast<std::uint8_t*>(seg.payload);
    while (option < options_end && *option != 0) {
        if (*option == 1) {
            ++option;
            continue;
        }
        if (option + 1 >= options_end || option[1] < 2 || option + option[1] > options_end)
            break;
        if (option[0] == 5)
            for (std::uint8_t* edge = option + 2; edge + 4 <= option + option[1]; edge += 4)
                map(edge);
        option += option[1];
    }
    seg.finish();
    return true;
}

} // namespace lb::dataplane
