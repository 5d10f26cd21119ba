// One node's side of the replication protocol with one peer, as pure logic on an explicit clock
// (the VRRP router's model): it turns queued entries into signed, sequenced datagrams, acts on
// the peer's acknowledgements (resending what the peer names as missing, or what stays
// unacknowledged too long, backing off), acknowledges and applies what the peer sends, refuses
// replays, reflections and forgeries by reason, notices a silent peer, and runs the streams that
// bring a peer in sync. No sockets and no tables: the caller sends what poll() returns, feeds
// receive() what arrives, and gives it three hooks onto the live tables. Unit tests wire two back
// to back, and test/unit/sync_model_test.cpp drives them through randomized faults against a
// model. The state machine, for a reviewer: docs/design.md, "Replication protocol".
//
// A stream is what one node sends to one run (epoch) of its peer: it starts with a full dump
// and carries every change after it. It starts when the peer's run is first heard (a hello with
// a new epoch), when a change could not be queued (the queue overflowed), and when the peer asks
// for one (it lost us for longer than peer_timeout_ms). The sender names the stream's first
// sequence in its hellos (the handshake); the receiver starts there, asks for every number above
// it that is missing, and is in sync once the dump's end marker and everything before it have
// arrived: never on the strength of whichever datagram happened to arrive first.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "modules/replication/codec.hpp"

namespace lb::control::sync {

using Digest = std::array<std::uint8_t, 32>;

struct LinkSettings {
    std::uint32_t cluster_id = 1;
    std::uint64_t hello_interval_ms = 200;       // also the heartbeat
    std::uint64_t peer_timeout_ms = 1000;        // silence after which the peer is lost
    std::uint64_t resend_after_ms = 200;         // an unacknowledged datagram is sent again, then
    std::uint64_t max_resend_interval_ms = 3200; // at doubling intervals up to this one
    // A datagram the peer names as missing is sent again at most this often (a replayed or
    // repeated acknowledgement must not make us resend the window on every copy).
    std::uint64_t nack_resend_interval_ms = 10;
    std::size_t window = 512;        // datagrams in flight, unacknowledged; also how far ahead
                                     // of a gap the receiver holds datagrams
    std::size_t queue_limit = 65536; // entries waiting for the window; beyond: a new stream
    // Deletions kept for the next stream when the queue overflowed (a dump sends only live
    // entries, so a deletion dropped there would never reach the peer); beyond: counted.
    std::size_t deletion_backlog_limit = 65536;
    std::size_t max_missing_ranges = 32; // an acknowledgement's ranges we act on
    // MAC verifications per second (and burst): a flood of forged datagrams from a peer's
    // address must not take the control thread that also runs VRRP. Far above what a peer
    // sends (a 1M-entry dump is ~30k datagrams).
    std::uint64_t verifications_per_s = 65536;
    // Retired epochs remembered per peer: a run of the peer we have seen replaced is never
    // taken back, whatever its number (a clock stepped back, a lost epoch file).
    std::size_t retired_epochs = 64;
    std::uint64_t first_sequence = 1; // the tests start near 2^31 and 2^32
    // Entries datagrams one poll() sends at most: the control thread also runs VRRP, and a dump
    // that filled the whole window in one go kept a master's adverts from leaving for 250 ms
    // (long enough for the restarted peer it was dumping to to declare the master down). At a
    // poll every 5 ms this is ~25k datagrams (~800k entries) a second.
    std::size_t max_datagrams_per_poll = 128;
    std::size_t max_datagram = max_datagram_size;
};

enum class LinkState : std::uint8_t {
    connecting,     // nothing heard from the peer yet
    receiving_bulk, // the peer's full dump is still arriving
    in_sync,        // everything the peer holds has arrived
    peer_lost,      // the peer has been silent longer than peer_timeout_ms
};
const char* link_state_name(LinkState s);

// Why a datagram was dropped: the codec's reasons, then the protocol's.
enum class DropReason : std::uint8_t {
    stale_epoch = decode_error_count, // from a run of the peer that is not its current one
    replayed,                         // a sequence (or hello, or ack number) already received
    not_for_us,                       // addressed to another node, or to an earlier run of this one
    reflected,        // signed by this node: one of our own datagrams sent back to us
    wrong_sender,     // signed by another node than the peer whose address it came from
    before_handshake, // entries or an ack before the peer's run and stream are known
    ahead_of_window,  // further ahead of a gap than the window holds
    rate_limited,     // over verifications_per_s: not verified (a flood of forgeries)
};
constexpr std::size_t drop_reason_count = decode_error_count + 8;
const char* drop_reason_name(std::size_t reason);

struct LinkCounters {
    std::uint64_t datagrams_sent = 0;
    std::uint64_t datagrams_received = 0;
    std::uint64_t entries_sent = 0;
    std::uint64_t entries_received = 0;
    std::uint64_t entries_resent = 0;
    std::uint64_t queue_overflows = 0;      // entries not queued: a new stream sends them instead
    std::uint64_t bulk_dumps_sent = 0;      // streams started (each begins with a full dump)
    std::uint64_t streams_received = 0;     // streams of the peer's started here
    std::uint64_t streams_asked = 0;        // times we asked the peer for a new stream
    std::uint64_t deletions_unrepaired = 0; // deletions beyond deletion_backlog_limit
    std::uint64_t gaps_asked = 0;           // missing ranges named in our acknowledgements
    std::uint64_t config_mismatches = 0;
    std::array<std::uint64_t, drop_reason_count> dropped{};
};

struct LinkStatus {
    LinkState state = LinkState::connecting;
    std::uint64_t epoch = 0;
    std::uint64_t peer_epoch = 0; // 0: not heard yet
    // The handshake: the peer's hellos name our run, and it named the stream it sends us.
    bool peer_knows_us = false;
    std::uint64_t stream_sent = 0;     // first sequence of our stream to the peer (0: none)
    std::uint64_t stream_received = 0; // first sequence of the peer's stream to us (0: none)
    bool asking_for_stream = false;    // we lost the peer: a new stream must bring us in sync
    std::uint64_t sequence_sent = 0;
    std::uint64_t sequence_acknowledged = 0;
    std::uint64_t received_through = 0;       // every sequence of the peer's up to this one arrived
    std::size_t held_ahead = 0;               // datagrams held beyond a gap
    std::optional<std::uint64_t> gap_open_ms; // how long the oldest gap has been asked for
    std::size_t queue_depth = 0;
    std::size_t in_flight = 0;
    std::size_t deletion_backlog = 0;
    bool dumping = false;                // our stream's dump is still being sent
    bool stream_pending = false;         // a new stream is due (the queue overflowed, or asked for)
    bool peer_in_sync = false;           // the peer holds all of our table
    bool config_matches = true;          // the peer's configuration digest equals ours
    std::uint64_t peer_entries_held = 0; // the peer's table size, as its last hello said
    std::optional<std::uint64_t> last_heard_ms;
    LinkCounters counters;
};

class PeerLink {
  public:
    struct Hooks {
        // The entry as the live table holds it now, for a resend or a dump (nullopt: it is gone;
        // its deletion is the table's to send, with the time it was last seen). Deletions are
        // resent as they are.
        std::function<std::optional<Entry>(const Entry&)> current;
        // The next entries of a full dump of this node's table, appended to `out`, from
        // `cursor` (0 at the start; the hook advances it). False once the table is exhausted.
        std::function<bool(std::uint64_t& cursor, std::vector<Entry>& out)> dump;
        // An entry the peer sent, to install (or delete).
        std::function<void(const Entry&)> apply;
    };

    PeerLink(LinkSettings settings, std::uint64_t epoch, NodeId self, NodeId peer, KeyRing keys,
             Digest digest, Hooks hooks);

    // A change of this node's table to send (created, changed, deleted).
    void queue(const Entry& entry);
    // Processes one datagram from the peer.
    void receive(std::span<const std::uint8_t> datagram, std::uint64_t now_ms);
    // What to send now: hellos, acknowledgements, resends, queued entries and dump progress.
    std::vector<std::vector<std::uint8_t>> poll(std::uint64_t now_ms);

    LinkStatus status(std::uint64_t now_ms) const;
    // The configuration changed (a reload): hellos carry the new digest.
    void set_digest(const Digest& digest) { digest_ = digest; }
    // A key rotation (a reload): sign with the new current key, accept both.
    void set_keys(KeyRing keys) { keys_ = std::move(keys); }
    std::uint64_t entries_held_hint = 0; // reported in hellos (the caller's table size)

  private:
    struct Sent {
        std::vector<Entry> entries;
        std::uint8_t flags = 0;
        std::uint64_t sent_ms = 0;
        std::uint64_t next_resend_ms = 0;
        unsigned resends = 0;
    };
    // Arrived ahead of a gap: applied once the gap is filled. In order, because a later
    // datagram may carry a newer state of the same entry, and whichever is applied last stays.
    struct Held {
        std::vector<Entry> entries;
        std::uint8_t flags = 0;
    };

    Header header(MessageType type, std::uint8_t flags, std::uint64_t sequence) const;
    void emit(std::span<const std::uint8_t> bytes, std::vector<std::vector<std::uint8_t>>& out);
    void send_hello(std::uint64_t now_ms, std::vector<std::vector<std::uint8_t>>& out);
    void send_candidate_hello(std::vector<std::vector<std::uint8_t>>& out);
    void send_ack(std::uint64_t now_ms, std::vector<std::vector<std::uint8_t>>& out);
    void send_entries(std::deque<Entry>& source, std::uint8_t flags, bool revalidate,
                      std::uint64_t now_ms, std::vector<std::vector<std::uint8_t>>& out);
    void resend(std::uint64_t sequence, std::uint64_t now_ms,
                std::vector<std::vector<std::uint8_t>>& out);
    void send_dump(std::uint64_t now_ms, std::size_t budget,
                   std::vector<std::vector<std::uint8_t>>& out);
    // Starts a new stream to the peer's current run: a full dump first. `keep_deletions`: the
    // peer's run is the same (it keeps our entries), so deletions not yet acknowledged or lost
    // to the queue still have to reach it; a new run holds nothing of ours.
    void start_stream(bool keep_deletions);

    // receive(), in steps: the checks that need no cryptography, then the MAC, then the message.
    std::optional<DropReason> precheck(const Header& h) const;
    bool take_verification_token(std::uint64_t now_ms);
    bool peer_epoch_retired(std::uint64_t epoch) const;
    bool may_adopt(const Decoded& hello, std::uint64_t now_ms) const;
    void adopt_peer_epoch(std::uint64_t epoch);
    void on_hello(const Decoded& d);
    void on_ack(const Decoded& d, std::uint64_t now_ms);
    void on_entries(const Decoded& d, std::uint64_t now_ms);
    void deliver(std::uint64_t sequence, const std::vector<Entry>& entries, std::uint8_t flags);
    void deliver_held();
    void begin_received_stream(std::uint64_t start);
    void update_in_sync();
    void drop(DropReason reason) { ++counters_.dropped[static_cast<std::size_t>(reason)]; }
    void drop(DecodeError error) { ++counters_.dropped[static_cast<std::size_t>(error)]; }
    bool window_open() const { return in_flight_.size() < settings_.window; }
    // The peer's current run has no stream of ours yet (poll starts one).
    bool new_run_unserved() const { return peer_epoch_ != 0 && stream_epoch_ != peer_epoch_; }
    bool peer_reachable(std::uint64_t now_ms) const;
    LinkState state(std::uint64_t now_ms) const;

    LinkSettings settings_;
    std::uint64_t epoch_;
    NodeId self_;
    NodeId peer_;
    KeyRing keys_;
    Digest digest_;
    Hooks hooks_;
    DatagramBuilder builder_;
    LinkCounters counters_;

    // Sending.
    std::uint64_t next_sequence_;
    std::uint64_t acknowledged_ = 0;
    std::map<std::uint64_t, Sent> in_flight_;
    std::deque<Entry> queue_;
    std::deque<Entry> deletion_backlog_; // deletions the full queue could not take
    std::set<std::uint64_t> resend_wanted_;
    std::uint64_t stream_start_ = 0;   // first sequence of our stream (0: none yet)
    std::uint64_t stream_epoch_ = 0;   // the peer's run it is for
    bool stream_flag_pending_ = false; // the stream's first datagram is still to be sent
    bool dumping_ = false;
    bool dump_more_ = false; // the dump hook has more of the table
    std::deque<Entry> dump_pending_;
    bool refresh_wanted_ = false; // a new stream is due (overflow, or the peer asked)
    std::uint64_t dump_cursor_ = 0;
    std::uint64_t next_hello_ms_ = 0;
    bool hello_due_ = false; // now, not at the next interval: the stream changed
    std::uint64_t hellos_sent_ = 0;
    std::uint64_t acks_sent_ = 0;

    // Receiving.
    std::uint64_t peer_epoch_ = 0;
    std::deque<std::uint64_t> retired_epochs_;
    std::uint64_t last_hello_ = 0; // the peer's hello and ack numbers seen (replays refused)
    // Our hello count when the peer's current run was last heard: another run's hello must echo
    // a later one to replace it (may_adopt).
    std::uint64_t proof_threshold_ = 0;
    // A run of the peer heard but not (yet) adopted, and the number of its last hello: our
    // hellos name it and echo that number, so that it can adopt us, and prove itself to us.
    std::uint64_t candidate_epoch_ = 0;
    std::uint64_t candidate_hello_ = 0;
    std::uint64_t candidate_heard_ms_ = 0;
    std::uint64_t last_ack_ = 0;
    bool peer_knows_us_ = false;
    std::uint64_t received_stream_ = 0;  // first sequence of the peer's stream to us (0: none)
    std::uint64_t received_through_ = 0; // every sequence up to this one has been applied
    std::map<std::uint64_t, Held> received_beyond_;
    std::optional<std::uint64_t> gap_open_since_ms_;
    bool ack_due_ = false;
    bool have_bulk_end_ = false;
    std::uint64_t bulk_end_ = 0;
    bool in_sync_ = false;
    bool want_stream_ = false; // we lost the peer: ask for a new stream in our hellos
    bool peer_in_sync_ = false;
    bool config_matches_ = true;
    std::uint64_t peer_entries_held_ = 0;
    std::optional<std::uint64_t> last_heard_ms_;
    std::uint64_t tokens_ = 0; // MAC verifications left (take_verification_token)
    std::uint64_t tokens_refilled_ms_ = 0;
};

} // namespace lb::control::sync
