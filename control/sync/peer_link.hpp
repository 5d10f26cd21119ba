// One node's side of the replication protocol with its peer, as pure logic on an explicit clock
// (the VRRP router's model): it turns queued entries into signed, sequenced datagrams, acts on
// the peer's acknowledgements (resending what the peer names as missing, or what stays
// unacknowledged too long), acknowledges and applies what the peer sends, refuses replays and
// forgeries by reason, notices a silent peer, and runs the full dumps that bring a fresh peer
// in sync. No sockets and no tables: the caller sends what poll() returns, feeds receive() what
// arrives, and gives it three hooks onto the live tables. Unit tests wire two back to back.
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

#include "control/sync/codec.hpp"

namespace lb::control::sync {

using Digest = std::array<std::uint8_t, 32>;

struct LinkSettings {
    std::uint32_t cluster_id = 1;
    std::uint64_t hello_interval_ms = 200; // also the heartbeat
    std::uint64_t peer_timeout_ms = 1000;  // silence after which the peer is lost
    std::uint64_t resend_after_ms = 200;   // an unacknowledged datagram is sent again
    std::size_t window = 512;              // datagrams in flight, unacknowledged
    std::size_t queue_limit = 65536;       // entries waiting for the window; beyond: refresh
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
    stale_epoch = decode_error_count, // from a previous run of the peer (or a replay of one)
    replayed,                         // a sequence number already received
    not_for_us,                       // an acknowledgement of an epoch that is not ours
};
constexpr std::size_t drop_reason_count = decode_error_count + 3;
const char* drop_reason_name(std::size_t reason);

struct LinkCounters {
    std::uint64_t datagrams_sent = 0;
    std::uint64_t datagrams_received = 0;
    std::uint64_t entries_sent = 0;
    std::uint64_t entries_received = 0;
    std::uint64_t entries_resent = 0;
    std::uint64_t queue_overflows = 0; // entries not queued: a refresh sends them instead
    std::uint64_t bulk_dumps_sent = 0;
    std::uint64_t config_mismatches = 0;
    std::array<std::uint64_t, drop_reason_count> dropped{};
};

struct LinkStatus {
    LinkState state = LinkState::connecting;
    std::uint64_t epoch = 0;
    std::uint64_t peer_epoch = 0; // 0: not heard yet
    std::uint32_t sequence_sent = 0;
    std::uint32_t sequence_acknowledged = 0;
    std::size_t queue_depth = 0;
    std::size_t in_flight = 0;
    bool peer_in_sync = false;           // the peer holds all of our table
    bool config_matches = true;          // the peer's configuration digest equals ours
    std::uint64_t peer_entries_held = 0; // the peer's table size, as its last hello said
    std::optional<std::uint64_t> last_heard_ms;
    LinkCounters counters;
};

class PeerLink {
  public:
    struct Hooks {
        // The entry as the live table holds it now, for a resend (nullopt: it is gone, and a
        // deletion is sent instead). Deletions are resent as they are.
        std::function<std::optional<Entry>(const Entry&)> current;
        // The next entries of a full dump of this node's table, appended to `out`, from
        // `cursor` (0 at the start; the hook advances it). False once the table is exhausted.
        std::function<bool(std::uint64_t& cursor, std::vector<Entry>& out)> dump;
        // An entry the peer sent, to install (or delete).
        std::function<void(const Entry&)> apply;
    };

    PeerLink(LinkSettings settings, std::uint64_t epoch, MessageKey key, Digest digest,
             Hooks hooks);

    // A change of this node's table to send (created, changed, deleted).
    void queue(const Entry& entry);
    // Processes one datagram from the peer.
    void receive(std::span<const std::uint8_t> datagram, std::uint64_t now_ms);
    // What to send now: hellos, acknowledgements, resends, queued entries and dump progress.
    std::vector<std::vector<std::uint8_t>> poll(std::uint64_t now_ms);

    LinkStatus status(std::uint64_t now_ms) const;
    // The configuration changed (a reload): hellos carry the new digest.
    void set_digest(const Digest& digest) { digest_ = digest; }
    std::uint64_t entries_held_hint = 0; // reported in hellos (the caller's table size)

  private:
    struct Sent {
        std::vector<Entry> entries;
        std::uint8_t flags = 0;
        std::uint64_t sent_ms = 0;
    };

    Header header(MessageType type, std::uint8_t flags = 0, std::uint32_t sequence = 0) const;
    void send_entries(std::deque<Entry>& source, std::uint8_t flags, std::uint64_t now_ms,
                      std::vector<std::vector<std::uint8_t>>& out);
    void resend(std::uint64_t sequence, std::uint64_t now_ms,
                std::vector<std::vector<std::uint8_t>>& out);
    void on_hello(const Decoded& d);
    void on_ack(const Decoded& d);
    void on_entries(const Decoded& d);
    void deliver(std::uint64_t sequence, const std::vector<Entry>& entries, std::uint8_t flags);
    void drop(std::size_t reason) { ++counters_.dropped[reason]; }
    bool window_open() const { return in_flight_.size() < settings_.window; }
    LinkState state(std::uint64_t now_ms) const;

    LinkSettings settings_;
    std::uint64_t epoch_;
    MessageKey key_;
    Digest digest_;
    Hooks hooks_;
    DatagramBuilder builder_;
    LinkCounters counters_;

    // Sending.
    // Sequence numbers are 64-bit here, their low 32 bits on the wire (peer_link.cpp, extend).
    std::uint64_t next_sequence_ = 1;
    std::uint64_t acknowledged_ = 0;
    std::map<std::uint64_t, Sent> in_flight_;
    std::deque<Entry> queue_;
    std::set<std::uint64_t> resend_wanted_;
    bool dumping_ = false;
    bool dump_more_ = false; // the dump hook has more of the table
    std::deque<Entry> dump_pending_;
    bool refresh_wanted_ = false; // the queue overflowed: a full dump repairs it
    std::uint64_t dump_cursor_ = 0;
    std::uint64_t dumped_for_peer_epoch_ = 0;
    std::uint64_t next_hello_ms_ = 0;

    // Receiving.
    std::uint64_t peer_epoch_ = 0;
    bool base_known_ = false;            // a first entries datagram of this peer epoch seen
    std::uint64_t received_through_ = 0; // every sequence up to this one has been applied
    // Arrived ahead of a gap: applied once the gap is filled. In order, because a later
    // datagram may carry a newer state of the same entry, and whichever is applied last stays.
    struct Held {
        std::vector<Entry> entries;
        std::uint8_t flags = 0;
    };
    std::map<std::uint64_t, Held> received_beyond_;
    bool ack_due_ = false;
    bool have_bulk_end_ = false;
    std::uint64_t bulk_end_ = 0;
    bool in_sync_ = false;
    bool peer_in_sync_ = false;
    bool peer_wants_bulk_ = false;
    bool config_matches_ = true;
    std::uint64_t peer_entries_held_ = 0;
    std::optional<std::uint64_t> last_heard_ms_;
};

} // namespace lb::control::sync
