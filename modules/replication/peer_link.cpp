#include "modules/replication/peer_link.hpp"

#include <algorithm>

namespace lb::control::sync {

const char* link_state_name(LinkState s) {
    switch (s) {
    case LinkState::connecting:
        return "connecting";
    case LinkState::receiving_bulk:
        return "receiving bulk";
    case LinkState::in_sync:
        return "in sync";
    case LinkState::peer_lost:
        return "peer lost";
    }
    return "unknown";
}

const char* drop_reason_name(std::size_t reason) {
    if (reason < decode_error_count)
        return decode_error_name(static_cast<DecodeError>(reason));
    switch (static_cast<DropReason>(reason)) {
    case DropReason::stale_epoch:
        return "stale_epoch";
    case DropReason::replayed:
        return "replayed";
    case DropReason::not_for_us:
        return "not_for_us";
    case DropReason::reflected:
        return "reflected";
    case DropReason::wrong_sender:
        return "wrong_sender";
    case DropReason::before_handshake:
        return "before_handshake";
    case DropReason::ahead_of_window:
        return "ahead_of_window";
    case DropReason::rate_limited:
        return "rate_limited";
    }
    return "unknown";
}

PeerLink::PeerLink(LinkSettings settings, std::uint64_t epoch, NodeId self, NodeId peer,
                   KeyRing keys, Digest digest, Hooks hooks)
    : settings_(settings), epoch_(epoch), self_(self), peer_(peer), keys_(std::move(keys)),
      digest_(digest), hooks_(std::move(hooks)), builder_(settings.max_datagram),
      next_sequence_(std::max<std::uint64_t>(settings.first_sequence, 1)),
      tokens_(settings.verifications_per_s) {}

Header PeerLink::header(MessageType type, std::uint8_t flags, std::uint64_t sequence) const {
    Header h;
    h.type = type;
    h.flags = flags;
    h.cluster_id = settings_.cluster_id;
    h.epoch = epoch_;
    h.receiver_epoch = peer_epoch_;
    h.sequence = sequence;
    h.sender = self_;
    h.receiver = peer_;
    return h;
}

void PeerLink::emit(std::span<const std::uint8_t> bytes,
                    std::vector<std::vector<std::uint8_t>>& out) {
    if (bytes.empty())
        return; // no MAC could be computed: nothing leaves unsigned (the resend repairs it)
    out.emplace_back(bytes.begin(), bytes.end());
    ++counters_.datagrams_sent;
}

// ---- sending ----------------------------------------------------------------------------------

void PeerLink::queue(const Entry& entry) {
    if (queue_.size() < settings_.queue_limit) {
        queue_.push_back(entry);
        return;
    }
    ++counters_.queue_overflows;
    refresh_wanted_ = true; // a new stream's dump brings every live entry
    if (std::holds_alternative<DeletionEntry>(entry)) {
        if (deletion_backlog_.size() < settings_.deletion_backlog_limit)
            deletion_backlog_.push_back(entry);
        else
            ++counters_.deletions_unrepaired; // the peer's copy expires on its own clock
    }
}

void PeerLink::start_stream(bool keep_deletions) {
    std::deque<Entry> kept;
    if (keep_deletions) {
        // In the order they were made: a deletion, then the flow made again, must stay so.
        for (const auto& [sequence, sent] : in_flight_)
            for (const auto& e : sent.entries)
                if (std::holds_alternative<DeletionEntry>(e))
                    kept.push_back(e);
        for (const auto& e : queue_)
            if (std::holds_alternative<DeletionEntry>(e))
                kept.push_back(e);
        kept.insert(kept.end(), deletion_backlog_.begin(), deletion_backlog_.end());
    }
    // Everything else is the dump's to send, as the table holds it then.
    in_flight_.clear();
    resend_wanted_.clear();
    deletion_backlog_.clear();
    queue_ = std::move(kept);
    stream_start_ = next_sequence_;
    stream_epoch_ = peer_epoch_;
    stream_flag_pending_ = true;
    dumping_ = true;
    dump_more_ = true;
    dump_cursor_ = 0;
    dump_pending_.clear();
    refresh_wanted_ = false;
    hello_due_ = true; // the handshake names the new stream at once
    ++counters_.bulk_dumps_sent;
}

void PeerLink::send_hello(std::uint64_t now_ms, std::vector<std::vector<std::uint8_t>>& out) {
    std::uint8_t flags = in_sync_ ? flag_in_sync : 0;
    if (want_stream_ || (peer_epoch_ != 0 && received_stream_ == 0))
        flags |= flag_want_stream;
    Header h = header(MessageType::hello, flags, ++hellos_sent_);
    h.ack = received_stream_; // the stream we have: a request for a new one is about this one
    builder_.start(h);
    Hello hello;
    hello.config_digest = digest_;
    hello.entries_held =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(entries_held_hint, 0xffffffffu));
    hello.stream_start = stream_epoch_ == peer_epoch_ ? stream_start_ : 0;
    hello.echo = last_hello_;
    builder_.add(hello);
    emit(builder_.finish(keys_.current), out);
    next_hello_ms_ = now_ms + settings_.hello_interval_ms;
    hello_due_ = false;
    // A candidate not heard for a peer timeout is let go (a replay, or a run that died).
    if (candidate_epoch_ != 0 && now_ms - candidate_heard_ms_ <= settings_.peer_timeout_ms)
        send_candidate_hello(out);
}

// The handshake's challenge: a hello to the run we heard but could not adopt yet, naming it and
// echoing its hello. Nothing else of ours is for it until it proves itself alive the same way.
void PeerLink::send_candidate_hello(std::vector<std::vector<std::uint8_t>>& out) {
    Header h = header(MessageType::hello, 0, ++hellos_sent_);
    h.receiver_epoch = candidate_epoch_;
    builder_.start(h);
    Hello hello;
    hello.config_digest = digest_;
    hello.echo = candidate_hello_;
    builder_.add(hello);
    emit(builder_.finish(keys_.current), out);
}

void PeerLink::send_ack(std::uint64_t now_ms, std::vector<std::vector<std::uint8_t>>& out) {
    Header h = header(MessageType::ack, 0, ++acks_sent_);
    h.ack = received_through_;
    builder_.start(h);
    std::uint64_t expected = received_through_ + 1;
    std::size_t ranges = 0;
    for (const auto& [got, held] : received_beyond_) {
        if (got > expected) {
            if (ranges == settings_.max_missing_ranges)
                break;
            const auto count =
                static_cast<std::uint16_t>(std::min<std::uint64_t>(got - expected, 0xffff));
            if (!builder_.add(MissingRange{expected, count}))
                break;
            ++ranges;
        }
        expected = got + 1;
    }
    counters_.gaps_asked += ranges;
    if (ranges != 0 && !gap_open_since_ms_)
        gap_open_since_ms_ = now_ms;
    emit(builder_.finish(keys_.current), out);
    ack_due_ = false;
}

// Fills one datagram from `source` (front first), sends it and keeps it until acknowledged.
// `revalidate`: each entry is read again from the live table first (a dump's read-ahead must
// not send a state older than a change already sent, nor bring back a deleted entry).
void PeerLink::send_entries(std::deque<Entry>& source, std::uint8_t flags, bool revalidate,
                            std::uint64_t now_ms, std::vector<std::vector<std::uint8_t>>& out) {
    const std::uint64_t sequence = next_sequence_++;
    if (stream_flag_pending_) {
        flags |= flag_stream_start;
        stream_flag_pending_ = false;
    }
    Sent sent;
    sent.flags = flags;
    sent.sent_ms = now_ms;
    sent.next_resend_ms = now_ms + settings_.resend_after_ms;
    builder_.start(header(MessageType::entries, flags, sequence));
    while (!source.empty()) {
        if (revalidate && !std::holds_alternative<DeletionEntry>(source.front())) {
            auto now = hooks_.current(source.front());
            if (!now) {
                source.pop_front();
                continue;
            }
            source.front() = std::move(*now);
        }
        if (!builder_.add(source.front()))
            break;
        sent.entries.push_back(std::move(source.front()));
        source.pop_front();
    }
    emit(builder_.finish(keys_.current), out);
    counters_.entries_sent += sent.entries.size();
    in_flight_.emplace(sequence, std::move(sent));
}

void PeerLink::resend(std::uint64_t sequence, std::uint64_t now_ms,
                      std::vector<std::vector<std::uint8_t>>& out) {
    const auto it = in_flight_.find(sequence);
    if (it == in_flight_.end())
        return;
    Sent& sent = it->second;
    // What the table holds now: a resend never brings back an older state, nor a gone entry
    // (its deletion is queued by the table, with its time).
    std::vector<Entry> fresh;
    for (const auto& e : sent.entries) {
        if (std::holds_alternative<DeletionEntry>(e))
            fresh.push_back(e);
        else if (auto now = hooks_.current(e))
            fresh.push_back(std::move(*now));
    }
    // A refreshed entry may have grown (sequence numbers added): what no longer fits goes back
    // to the queue, to be sent in a datagram of its own.
    sent.entries.clear();
    builder_.start(header(MessageType::entries, sent.flags, sequence));
    for (auto& e : fresh) {
        if (builder_.add(e))
            sent.entries.push_back(std::move(e));
        else
            queue_.push_front(std::move(e));
    }
    emit(builder_.finish(keys_.current), out);
    sent.sent_ms = now_ms;
    ++sent.resends;
    const std::uint64_t backoff = settings_.resend_after_ms << std::min(sent.resends, 16u);
    sent.next_resend_ms = now_ms + std::min(backoff, settings_.max_resend_interval_ms);
    counters_.entries_resent += sent.entries.size();
}

void PeerLink::send_dump(std::uint64_t now_ms, std::size_t budget,
                         std::vector<std::vector<std::uint8_t>>& out) {
    while (window_open() && dumping_ && out.size() < budget) {
        // Read a few datagrams' worth of the table ahead of the window.
        while (dump_more_ && dump_pending_.size() < 256) {
            std::vector<Entry> batch;
            dump_more_ = hooks_.dump(dump_cursor_, batch);
            dump_pending_.insert(dump_pending_.end(), batch.begin(), batch.end());
        }
        if (!dump_more_ && dump_pending_.empty()) {
            // The end marker: a datagram of its own (empty), so that an empty table still
            // sends one and the receiver knows where the dump ends whatever it carried.
            send_entries(dump_pending_, flag_bulk | flag_bulk_end, false, now_ms, out);
            dumping_ = false;
            break;
        }
        send_entries(dump_pending_, flag_bulk, true, now_ms, out);
    }
}

std::vector<std::vector<std::uint8_t>> PeerLink::poll(std::uint64_t now_ms) {
    std::vector<std::vector<std::uint8_t>> out;
    const bool reachable = peer_reachable(now_ms);
    // A stream for the peer's run as soon as it is known; a new one when one is due and the
    // peer is there to take it (while it is lost, the backlog waits).
    if (new_run_unserved())
        start_stream(false);
    else if (refresh_wanted_ && reachable)
        start_stream(true);
    if (hello_due_ || now_ms >= next_hello_ms_)
        send_hello(now_ms, out);
    if (ack_due_)
        send_ack(now_ms, out);
    if (!reachable) {
        resend_wanted_.clear(); // nobody listens: the timed resends repair it later
    } else {
        for (std::uint64_t sequence : resend_wanted_)
            resend(sequence, now_ms, out);
        resend_wanted_.clear();
        for (auto& [sequence, sent] : in_flight_)
            if (now_ms >= sent.next_resend_ms)
                resend(sequence, now_ms, out);
    }
    if (stream_start_ == 0)
        return out; // no stream yet: what is queued waits for the peer's run to be known
    // Live changes first: they are newer than anything a dump would read.
    const std::size_t budget = out.size() + settings_.max_datagrams_per_poll;
    while (window_open() && !queue_.empty() && out.size() < budget)
        send_entries(queue_, 0, false, now_ms, out);
    send_dump(now_ms, budget, out);
    return out;
}

// ---- receiving --------------------------------------------------------------------------------

bool PeerLink::peer_reachable(std::uint64_t now_ms) const {
    return last_heard_ms_ && now_ms - *last_heard_ms_ <= settings_.peer_timeout_ms;
}

bool PeerLink::peer_epoch_retired(std::uint64_t epoch) const {
    return epoch == 0 || std::find(retired_epochs_.begin(), retired_epochs_.end(), epoch) !=
                             retired_epochs_.end();
}

// Another run of the peer replaces the one we know when it is newer, or, whatever its number,
// when ours has gone silent (a clock stepped back, an epoch file lost), and only on proof that it
// is alive now: its hello names our run and echoes a hello of ours sent after we last heard the
// run it replaces. A replayed hello of an old run cannot, so a replay never takes the place of
// the live run (and a run once replaced is never taken back: retired_epochs_).
bool PeerLink::may_adopt(const Decoded& hello, std::uint64_t now_ms) const {
    if (peer_epoch_ != 0 && hello.header.epoch < peer_epoch_ && peer_reachable(now_ms))
        return false;
    return hello.header.receiver_epoch == epoch_ && hello.hello.echo > proof_threshold_;
}

// What needs no key: who sent it and to whom, whose run, which number. A datagram refused here
// costs no MAC (issue 21: spoofed datagrams must not take the control thread).
std::optional<DropReason> PeerLink::precheck(const Header& h) const {
    if (h.sender == self_)
        return DropReason::reflected;
    if (h.sender != peer_)
        return DropReason::wrong_sender;
    if (h.receiver != self_)
        return DropReason::not_for_us;
    if (h.type == MessageType::hello) {
        if (h.epoch != peer_epoch_)
            return peer_epoch_retired(h.epoch)
                       ? std::optional<DropReason>(DropReason::stale_epoch)
                       : std::nullopt; // may_adopt decides, once it is verified
        if (h.sequence <= last_hello_)
            return DropReason::replayed;
        return std::nullopt;
    }
    if (peer_epoch_ == 0)
        return DropReason::before_handshake;
    if (h.epoch != peer_epoch_)
        return peer_epoch_retired(h.epoch) || h.epoch < peer_epoch_ ? DropReason::stale_epoch
                                                                    : DropReason::before_handshake;
    if (h.receiver_epoch != epoch_)
        return DropReason::not_for_us; // for an earlier run of ours (or not yet for this one)
    if (h.type == MessageType::ack)
        return h.sequence <= last_ack_ ? std::optional<DropReason>(DropReason::replayed)
                                       : std::nullopt;
    if (h.type != MessageType::entries)
        return std::nullopt; // an unknown type: decode_datagram names it
    if ((h.flags & flag_stream_start) && h.sequence > received_stream_)
        return std::nullopt; // a new stream's first datagram: its start, before its hello
    if (received_stream_ == 0)
        return DropReason::before_handshake;
    if (h.sequence < received_stream_)
        return DropReason::replayed;
    // A datagram of this stream we have already is verified and answered (on_entries): our
    // acknowledgement of it may be what was lost, and the sender resends until it hears one.
    if (h.sequence - received_through_ > settings_.window)
        return DropReason::ahead_of_window;
    return std::nullopt;
}

bool PeerLink::take_verification_token(std::uint64_t now_ms) {
    const std::uint64_t rate = settings_.verifications_per_s;
    if (now_ms > tokens_refilled_ms_) {
        const std::uint64_t elapsed = std::min<std::uint64_t>(now_ms - tokens_refilled_ms_, 1000);
        tokens_ = std::min(rate, tokens_ + elapsed * rate / 1000);
        tokens_refilled_ms_ = now_ms;
    }
    if (tokens_ == 0)
        return false;
    --tokens_;
    return true;
}

void PeerLink::receive(std::span<const std::uint8_t> datagram, std::uint64_t now_ms) {
    const ParsedHeader parsed = parse_header(datagram, settings_.cluster_id);
    if (parsed.error != DecodeError::none)
        return drop(parsed.error);
    if (const auto reason = precheck(parsed.header))
        return drop(*reason);
    if (!take_verification_token(now_ms))
        return drop(DropReason::rate_limited);
    const Decoded d = decode_datagram(datagram, keys_, settings_.cluster_id);
    if (d.error != DecodeError::none)
        return drop(d.error);
    if (d.header.epoch != peer_epoch_) {
        // Only a hello gets here with another run: adopted on proof, or challenged.
        if (!may_adopt(d, now_ms)) {
            if (candidate_epoch_ != d.header.epoch || d.header.sequence > candidate_hello_) {
                candidate_epoch_ = d.header.epoch;
                candidate_hello_ = d.header.sequence;
                candidate_heard_ms_ = now_ms;
                hello_due_ = true;
            }
            return;
        }
        adopt_peer_epoch(d.header.epoch);
    } else if (last_heard_ms_ && now_ms - *last_heard_ms_ > settings_.peer_timeout_ms) {
        // The same run, back after we lost it: what it deleted or changed meanwhile may have
        // been lost with it, so we are not in sync until a new stream of its has arrived.
        in_sync_ = false;
        if (received_stream_ != 0 && !want_stream_) {
            want_stream_ = true;
            ++counters_.streams_asked;
        }
        hello_due_ = true;
    }
    last_heard_ms_ = now_ms;
    proof_threshold_ = hellos_sent_;
    ++counters_.datagrams_received;
    switch (d.header.type) {
    case MessageType::hello:
        return on_hello(d);
    case MessageType::ack:
        return on_ack(d, now_ms);
    case MessageType::entries:
        return on_entries(d, now_ms);
    }
}

void PeerLink::adopt_peer_epoch(std::uint64_t epoch) {
    if (peer_epoch_ != 0) {
        retired_epochs_.push_back(peer_epoch_);
        if (retired_epochs_.size() > settings_.retired_epochs)
            retired_epochs_.pop_front();
    }
    // The peer started (again): what it sends is numbered afresh, and it holds nothing of ours
    // until our new stream's dump has reached it (poll starts it).
    peer_epoch_ = epoch;
    candidate_epoch_ = 0;
    candidate_hello_ = 0;
    last_hello_ = 0;
    last_ack_ = 0;
    peer_knows_us_ = false;
    received_stream_ = 0;
    received_through_ = 0;
    received_beyond_.clear();
    gap_open_since_ms_.reset();
    ack_due_ = false;
    have_bulk_end_ = false;
    in_sync_ = false;
    want_stream_ = false;
    peer_in_sync_ = false;
}

void PeerLink::on_hello(const Decoded& d) {
    last_hello_ = d.header.sequence;
    peer_entries_held_ = d.hello.entries_held;
    const bool matches = d.hello.config_digest == digest_;
    if (!matches && config_matches_)
        ++counters_.config_mismatches; // once per change, not per hello
    config_matches_ = matches;
    if (d.header.receiver_epoch != epoch_) {
        // Another run of ours named by a peer that knows us: its challenge to a run it heard
        // and could not adopt (a replay of an earlier run of ours), not news about us.
        if (peer_knows_us_ && d.header.receiver_epoch != 0)
            return;
        peer_knows_us_ = false;
        peer_in_sync_ = false;
        hello_due_ = true; // tell it who we are now, not at the next interval
        return;
    }
    peer_knows_us_ = true;
    peer_in_sync_ = (d.header.flags & flag_in_sync) != 0;
    // It asks for a new stream, about the one we send now (a repeat of an answered request
    // names an older one).
    if ((d.header.flags & flag_want_stream) && stream_start_ != 0 && stream_epoch_ == peer_epoch_ &&
        d.header.ack >= stream_start_)
        refresh_wanted_ = true;
    if (d.hello.stream_start > received_stream_)
        begin_received_stream(d.hello.stream_start);
}

void PeerLink::begin_received_stream(std::uint64_t start) {
    // Everything before the stream's start is superseded by its dump: skip it, drop what was
    // held of it, and be in sync only once this stream's end marker has arrived.
    ++counters_.streams_received;
    received_stream_ = start;
    received_through_ = std::max(received_through_, start - 1);
    received_beyond_.erase(received_beyond_.begin(), received_beyond_.lower_bound(start));
    want_stream_ = false;
    ack_due_ = true;
    deliver_held();
    update_in_sync();
}

void PeerLink::on_ack(const Decoded& d, std::uint64_t now_ms) {
    last_ack_ = d.header.sequence;
    const std::uint64_t through = d.header.ack;
    if (through >= next_sequence_)
        return drop(DropReason::not_for_us); // numbers we never sent
    in_flight_.erase(in_flight_.begin(), in_flight_.upper_bound(through));
    acknowledged_ = std::max(acknowledged_, through);
    // Bounded by what we hold: at most max_missing_ranges ranges, each only over in_flight_.
    std::size_t ranges = 0;
    for (const auto& range : d.ack.missing) {
        if (ranges++ == settings_.max_missing_ranges)
            break;
        if (range.first <= through)
            continue;
        const std::uint64_t end = range.first + range.count;
        for (auto it = in_flight_.lower_bound(range.first);
             it != in_flight_.end() && it->first < end; ++it)
            if (it->second.sent_ms + settings_.nack_resend_interval_ms <= now_ms)
                resend_wanted_.insert(it->first);
    }
}

void PeerLink::on_entries(const Decoded& d, std::uint64_t now_ms) {
    const std::uint64_t sequence = d.header.sequence;
    ack_due_ = true;
    if (sequence <= received_through_ || received_beyond_.count(sequence))
        return drop(DropReason::replayed);
    if (d.header.flags & flag_stream_start && sequence > received_stream_)
        begin_received_stream(sequence); // before its hello: the same start, named twice
    if (sequence <= received_through_)
        return; // the stream start made it old news
    if (sequence != received_through_ + 1) {
        received_beyond_.emplace(sequence, Held{d.entries, d.header.flags});
        if (!gap_open_since_ms_)
            gap_open_since_ms_ = now_ms;
        return;
    }
    deliver(sequence, d.entries, d.header.flags);
    deliver_held();
    update_in_sync();
}

void PeerLink::deliver_held() {
    while (!received_beyond_.empty() && received_beyond_.begin()->first == received_through_ + 1) {
        const auto next = received_beyond_.begin();
        deliver(next->first, next->second.entries, next->second.flags);
        received_beyond_.erase(next);
    }
    if (received_beyond_.empty())
        gap_open_since_ms_.reset();
}

void PeerLink::deliver(std::uint64_t sequence, const std::vector<Entry>& entries,
                       std::uint8_t flags) {
    received_through_ = sequence;
    for (const auto& e : entries)
        hooks_.apply(e);
    counters_.entries_received += entries.size();
    if (flags & flag_bulk_end) {
        have_bulk_end_ = true;
        bulk_end_ = sequence;
    }
}

void PeerLink::update_in_sync() {
    // The end marker of a dump of the current stream, and everything up to it: complete.
    in_sync_ = !want_stream_ && received_stream_ != 0 && have_bulk_end_ &&
               bulk_end_ >= received_stream_ && received_through_ >= bulk_end_;
}

LinkState PeerLink::state(std::uint64_t now_ms) const {
    if (!last_heard_ms_)
        return LinkState::connecting;
    if (!peer_reachable(now_ms))
        return LinkState::peer_lost;
    return in_sync_ ? LinkState::in_sync : LinkState::receiving_bulk;
}

LinkStatus PeerLink::status(std::uint64_t now_ms) const {
    LinkStatus s;
    s.state = state(now_ms);
    s.epoch = epoch_;
    s.peer_epoch = peer_epoch_;
    s.peer_knows_us = peer_knows_us_;
    s.stream_sent = stream_epoch_ == peer_epoch_ ? stream_start_ : 0;
    s.stream_received = received_stream_;
    s.asking_for_stream = want_stream_;
    s.sequence_sent = next_sequence_ - 1;
    s.sequence_acknowledged = acknowledged_;
    s.received_through = received_through_;
    s.held_ahead = received_beyond_.size();
    if (gap_open_since_ms_)
        s.gap_open_ms = now_ms - *gap_open_since_ms_;
    s.queue_depth = queue_.size();
    s.in_flight = in_flight_.size();
    s.deletion_backlog = deletion_backlog_.size();
    s.dumping = dumping_;
    s.stream_pending = refresh_wanted_ || new_run_unserved();
    s.peer_in_sync = peer_in_sync_;
    s.config_matches = config_matches_;
    s.peer_entries_held = peer_entries_held_;
    s.last_heard_ms = last_heard_ms_;
    s.counters = counters_;
    return s;
}

} // namespace lb::control::sync
