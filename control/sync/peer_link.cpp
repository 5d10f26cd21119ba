#include "control/sync/peer_link.hpp"

#include <algorithm>

namespace lb::control::sync {

namespace {

// Sequence numbers are 64-bit here and 32-bit on the wire: a wire number is read as the 64-bit
// value nearest to `reference`, so the numbering never wraps in a process's lifetime.
std::uint64_t extend(std::uint32_t wire, std::uint64_t reference) {
    const auto delta = static_cast<std::int32_t>(wire - static_cast<std::uint32_t>(reference));
    const auto value = static_cast<std::int64_t>(reference) + delta;
    return value < 0 ? 0 : static_cast<std::uint64_t>(value);
}

std::optional<Entry> deletion_of(const Entry& e) {
    if (const auto* c = std::get_if<ConnectionEntry>(&e)) {
        DeletionEntry d;
        d.kind = DeletedKind::connection;
        d.flow = c->flow;
        return d;
    }
    if (const auto* t = std::get_if<TemplateEntry>(&e)) {
        DeletionEntry d;
        d.kind = DeletedKind::template_binding;
        d.client = t->client;
        d.prefix_length = t->prefix_length;
        d.service = t->service;
        return d;
    }
    return std::nullopt; // FTP state goes with its control connection's deletion
}

constexpr std::size_t max_missing_ranges = 32;

} // namespace

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
    }
    return "unknown";
}

PeerLink::PeerLink(LinkSettings settings, std::uint64_t epoch, MessageKey key, Digest digest,
                   Hooks hooks)
    : settings_(settings), epoch_(epoch), key_(std::move(key)), digest_(digest),
      hooks_(std::move(hooks)), builder_(settings.max_datagram) {}

Header PeerLink::header(MessageType type, std::uint8_t flags, std::uint32_t sequence) const {
    Header h;
    h.type = type;
    h.flags = flags;
    h.cluster_id = settings_.cluster_id;
    h.epoch = epoch_;
    h.sequence = sequence;
    return h;
}

void PeerLink::queue(const Entry& entry) {
    if (queue_.size() >= settings_.queue_limit) {
        ++counters_.queue_overflows;
        refresh_wanted_ = true;
        return;
    }
    queue_.push_back(entry);
}

// Fills one datagram from `source` (front first), sends it and keeps it until acknowledged.
void PeerLink::send_entries(std::deque<Entry>& source, std::uint8_t flags, std::uint64_t now_ms,
                            std::vector<std::vector<std::uint8_t>>& out) {
    const std::uint64_t sequence = next_sequence_++;
    Sent sent;
    sent.flags = flags;
    sent.sent_ms = now_ms;
    builder_.start(header(MessageType::entries, flags, static_cast<std::uint32_t>(sequence)));
    while (!source.empty() && builder_.add(source.front())) {
        sent.entries.push_back(std::move(source.front()));
        source.pop_front();
    }
    const auto bytes = builder_.finish(key_);
    out.emplace_back(bytes.begin(), bytes.end());
    ++counters_.datagrams_sent;
    counters_.entries_sent += sent.entries.size();
    in_flight_.emplace(sequence, std::move(sent));
}

void PeerLink::resend(std::uint64_t sequence, std::uint64_t now_ms,
                      std::vector<std::vector<std::uint8_t>>& out) {
    const auto it = in_flight_.find(sequence);
    if (it == in_flight_.end())
        return;
    Sent& sent = it->second;
    // What the table holds now: a resend never brings back an older state.
    std::vector<Entry> fresh;
    for (const auto& e : sent.entries) {
        if (std::holds_alternative<DeletionEntry>(e)) {
            fresh.push_back(e);
        } else if (auto now = hooks_.current(e)) {
            fresh.push_back(std::move(*now));
        } else if (auto gone = deletion_of(e)) {
            fresh.push_back(std::move(*gone));
        }
    }
    // A refreshed entry may have grown (sequence numbers added): what no longer fits goes back
    // to the queue, to be sent in a datagram of its own.
    sent.entries.clear();
    builder_.start(header(MessageType::entries, sent.flags, static_cast<std::uint32_t>(sequence)));
    for (auto& e : fresh) {
        if (builder_.add(e))
            sent.entries.push_back(std::move(e));
        else
            queue_.push_front(std::move(e));
    }
    const auto bytes = builder_.finish(key_);
    out.emplace_back(bytes.begin(), bytes.end());
    sent.sent_ms = now_ms;
    ++counters_.datagrams_sent;
    counters_.entries_resent += sent.entries.size();
}

std::vector<std::vector<std::uint8_t>> PeerLink::poll(std::uint64_t now_ms) {
    std::vector<std::vector<std::uint8_t>> out;
    const LinkState state = this->state(now_ms);
    if (now_ms >= next_hello_ms_) {
        std::uint8_t flags = in_sync_ ? flag_in_sync : flag_want_bulk;
        builder_.start(header(MessageType::hello, flags));
        Hello hello;
        hello.config_digest = digest_;
        hello.entries_held = static_cast<std::uint32_t>(entries_held_hint);
        builder_.add(hello);
        const auto bytes = builder_.finish(key_);
        out.emplace_back(bytes.begin(), bytes.end());
        ++counters_.datagrams_sent;
        next_hello_ms_ = now_ms + settings_.hello_interval_ms;
    }
    if (ack_due_) {
        Header h = header(MessageType::ack);
        h.ack = static_cast<std::uint32_t>(received_through_);
        builder_.start(h);
        builder_.add_ack_epoch(peer_epoch_);
        std::uint64_t expected = received_through_ + 1;
        std::size_t ranges = 0;
        for (const auto& [got, held] : received_beyond_) {
            if (got > expected && ranges < max_missing_ranges) {
                const auto count =
                    static_cast<std::uint16_t>(std::min<std::uint64_t>(got - expected, 0xffff));
                if (!builder_.add(MissingRange{static_cast<std::uint32_t>(expected), count}))
                    break;
                ++ranges;
            }
            expected = got + 1;
        }
        const auto bytes = builder_.finish(key_);
        out.emplace_back(bytes.begin(), bytes.end());
        ++counters_.datagrams_sent;
        ack_due_ = false;
    }
    if (state == LinkState::peer_lost || state == LinkState::connecting)
        resend_wanted_.clear(); // nobody listens: the peer's bulk request repairs it later
    for (std::uint64_t sequence : resend_wanted_)
        resend(sequence, now_ms, out);
    resend_wanted_.clear();
    if (state == LinkState::receiving_bulk || state == LinkState::in_sync)
        for (auto& [sequence, sent] : in_flight_)
            if (now_ms - sent.sent_ms >= settings_.resend_after_ms)
                resend(sequence, now_ms, out);

    if (!dumping_ && peer_epoch_ != 0 &&
        ((peer_wants_bulk_ && dumped_for_peer_epoch_ != peer_epoch_) || refresh_wanted_)) {
        dumping_ = true;
        dump_cursor_ = 0;
        dump_pending_.clear();
        dump_more_ = true;
        dumped_for_peer_epoch_ = peer_epoch_;
        refresh_wanted_ = false;
        ++counters_.bulk_dumps_sent;
    }
    // Live changes first: they are newer than anything a dump would read.
    while (window_open() && !queue_.empty())
        send_entries(queue_, 0, now_ms, out);
    while (window_open() && dumping_) {
        // Read a few datagrams' worth of the table ahead of the window.
        while (dump_more_ && dump_pending_.size() < 256) {
            std::vector<Entry> batch;
            dump_more_ = hooks_.dump(dump_cursor_, batch);
            dump_pending_.insert(dump_pending_.end(), batch.begin(), batch.end());
        }
        if (!dump_more_ && dump_pending_.empty()) {
            // The end marker: a datagram of its own (empty), so that an empty table still
            // sends one and the receiver knows where the dump ends whatever it carried.
            send_entries(dump_pending_, flag_bulk | flag_bulk_end, now_ms, out);
            dumping_ = false;
            break;
        }
        send_entries(dump_pending_, flag_bulk, now_ms, out);
    }
    return out;
}

void PeerLink::receive(std::span<const std::uint8_t> datagram, std::uint64_t now_ms) {
    const Decoded d = decode_datagram(datagram, key_, settings_.cluster_id);
    if (d.error != DecodeError::none)
        return drop(static_cast<std::size_t>(d.error));
    if (peer_epoch_ != 0 && d.header.epoch < peer_epoch_)
        return drop(static_cast<std::size_t>(DropReason::stale_epoch));
    if (d.header.epoch != peer_epoch_) {
        // The peer started (again): what it sends is numbered afresh, and it holds nothing of
        // ours until it has had a dump.
        peer_epoch_ = d.header.epoch;
        base_known_ = false;
        received_through_ = 0;
        received_beyond_.clear();
        have_bulk_end_ = false;
        in_sync_ = false;
        peer_in_sync_ = false;
    }
    last_heard_ms_ = now_ms;
    ++counters_.datagrams_received;
    switch (d.header.type) {
    case MessageType::hello:
        return on_hello(d);
    case MessageType::ack:
        return on_ack(d);
    case MessageType::entries:
        return on_entries(d);
    }
}

void PeerLink::on_hello(const Decoded& d) {
    peer_in_sync_ = (d.header.flags & flag_in_sync) != 0;
    peer_wants_bulk_ = (d.header.flags & flag_want_bulk) != 0;
    peer_entries_held_ = d.hello.entries_held;
    const bool matches = d.hello.config_digest == digest_;
    if (!matches && config_matches_)
        ++counters_.config_mismatches; // once per change, not per hello
    config_matches_ = matches;
}

void PeerLink::on_ack(const Decoded& d) {
    if (d.ack.for_epoch != epoch_)
        return drop(static_cast<std::size_t>(DropReason::not_for_us));
    const std::uint64_t through = extend(d.header.ack, next_sequence_ - 1);
    if (through >= next_sequence_)
        return drop(static_cast<std::size_t>(DropReason::not_for_us));
    in_flight_.erase(in_flight_.begin(), in_flight_.upper_bound(through));
    acknowledged_ = std::max(acknowledged_, through);
    for (const auto& range : d.ack.missing) {
        const std::uint64_t first = extend(range.first, through + 1);
        for (std::uint64_t s = first; s < first + range.count && s < next_sequence_; ++s)
            if (in_flight_.count(s))
                resend_wanted_.insert(s);
    }
}

void PeerLink::on_entries(const Decoded& d) {
    std::uint64_t sequence = extend(d.header.sequence, received_through_ + 1);
    if (!base_known_) {
        // Our first datagram of this epoch of the peer: what came before is the dump's job.
        received_through_ = sequence - 1;
        base_known_ = true;
    }
    if (sequence <= received_through_ || received_beyond_.count(sequence))
        return drop(static_cast<std::size_t>(DropReason::replayed));
    ack_due_ = true;
    if (sequence != received_through_ + 1) {
        received_beyond_.emplace(sequence, Held{d.entries, d.header.flags});
        return;
    }
    deliver(sequence, d.entries, d.header.flags);
    while (!received_beyond_.empty() && received_beyond_.begin()->first == received_through_ + 1) {
        const auto next = received_beyond_.begin();
        deliver(next->first, next->second.entries, next->second.flags);
        received_beyond_.erase(next);
    }
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
    if (have_bulk_end_ && received_through_ >= bulk_end_)
        in_sync_ = true;
}

LinkState PeerLink::state(std::uint64_t now_ms) const {
    if (!last_heard_ms_)
        return LinkState::connecting;
    if (now_ms - *last_heard_ms_ > settings_.peer_timeout_ms)
        return LinkState::peer_lost;
    return in_sync_ ? LinkState::in_sync : LinkState::receiving_bulk;
}

LinkStatus PeerLink::status(std::uint64_t now_ms) const {
    LinkStatus s;
    s.state = state(now_ms);
    s.epoch = epoch_;
    s.peer_epoch = peer_epoch_;
    s.sequence_sent = static_cast<std::uint32_t>(next_sequence_ - 1);
    s.sequence_acknowledged = static_cast<std::uint32_t>(acknowledged_);
    s.queue_depth = queue_.size();
    s.in_flight = in_flight_.size();
    s.peer_in_sync = peer_in_sync_;
    s.config_matches = config_matches_;
    s.peer_entries_held = peer_entries_held_;
    s.last_heard_ms = last_heard_ms_;
    s.counters = counters_;
    return s;
}

} // namespace lb::control::sync
