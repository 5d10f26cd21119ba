#include "modules/replication/session_bridge.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include <rte_spinlock.h>

#include "dataplane/sync_events.hpp"

namespace lb::control::replication {

using namespace lb::dataplane;
using sync::ConnectionEntry;
using sync::DeletionEntry;
using sync::FtpStateEntry;
using sync::TemplateEntry;

namespace {

constexpr std::uint32_t expectation_timeout_ms = 60'000; // as the FTP helper's

std::uint32_t remaining(std::uint32_t now, std::uint32_t last_seen, std::uint32_t timeout) {
    const std::uint32_t age = age_ms(now, last_seen);
    return age >= timeout ? 0 : timeout - age;
}

// `ours` is later than `theirs` on the millisecond clock (wrap-safe).
bool newer(std::uint32_t ours, std::uint32_t theirs) {
    return static_cast<std::int32_t>(ours - theirs) > 0;
}

sync::FlowIdentity flow_of(const FlowKey& k) {
    return {k.protocol, {k.src_ip, k.src_port}, {k.dst_ip, k.dst_port}};
}

FlowKey key_of(const sync::FlowIdentity& f) {
    FlowKey k;
    k.src_ip = f.client.address;
    k.src_port = f.client.port;
    k.dst_ip = f.virtual_endpoint.address;
    k.dst_port = f.virtual_endpoint.port;
    k.protocol = f.protocol;
    return k;
}

std::uint8_t prefix_of(std::uint32_t netmask_network_order) {
    return static_cast<std::uint8_t>(std::popcount(netmask_network_order));
}

} // namespace

void SessionBridge::bind(const Snapshot& snapshot) {
    snapshot_ = &snapshot;
    services_.clear();
    for (std::size_t i = 0; i < snapshot.services.size(); ++i) {
        const ServiceEntry& s = snapshot.services[i];
        if (s.members.empty() && s.vip == 0)
            continue;
        // A service a reload removed keeps its number but has no members: a live one with the
        // same identity wins.
        const ServiceKey key{s.vip, s.protocol, s.port_group, s.identity_port};
        const auto it = services_.find(key);
        if (it == services_.end() ||
            (snapshot.services[it->second].members.empty() && !s.members.empty()))
            services_[key] = static_cast<std::uint16_t>(i);
    }
}

std::optional<sync::ServiceIdentity> SessionBridge::service_identity(std::uint16_t service) const {
    if (!snapshot_ || service >= snapshot_->services.size())
        return std::nullopt;
    const ServiceEntry& s = snapshot_->services[service];
    return sync::ServiceIdentity{s.vip, s.protocol, s.port_group, s.identity_port};
}

std::optional<std::uint16_t> SessionBridge::bind_service(const sync::ServiceIdentity& id) const {
    const auto it = services_.find(ServiceKey{id.vip, id.protocol, id.group, id.port});
    if (it == services_.end())
        return std::nullopt;
    return it->second;
}

std::optional<std::uint16_t> SessionBridge::bind_real_server(std::uint16_t service,
                                                             const sync::Endpoint& rs) const {
    // By address; among several servers at one address, the one whose port matches (a server
    // without a port takes the packet's, and FTP data connections use other ports).
    std::optional<std::uint16_t> by_address;
    for (const std::uint16_t m : snapshot_->services[service].members) {
        const RealServerEntry& e = snapshot_->real_servers[m];
        if (e.address != rs.address)
            continue;
        if (e.port == rs.port)
            return m;
        if (!by_address || e.port == 0)
            by_address = m;
    }
    return by_address;
}

std::uint32_t SessionBridge::full_timeout(TcpState state, bool expectation) const {
    const TimeoutsMs& t = snapshot_->timeouts;
    if (expectation)
        return expectation_timeout_ms;
    switch (state) {
    case TcpState::none:
        return t.udp;
    case TcpState::syn_sent:
    case TcpState::syn_received:
        return t.tcp_syn;
    case TcpState::established:
        return t.tcp_established;
    case TcpState::fin_wait:
        return t.tcp_fin;
    case TcpState::close:
        return t.tcp_close;
    }
    return t.tcp_established;
}

std::optional<ConnectionEntry> SessionBridge::connection_entry(std::uint32_t index,
                                                               std::uint32_t now) const {
    const ConnectionTable& table = *ctx_.connections;
    if (index >= table.capacity())
        return std::nullopt;
    const Connection& c = table.at(index);
    if (!c.live.load(std::memory_order_acquire))
        return std::nullopt;
    const TcpState state = c.state.load(std::memory_order_relaxed);
    if (state == TcpState::syn_sent || state == TcpState::syn_received)
        return std::nullopt; // replicated once established
    const auto service = service_identity(c.service);
    if (!service)
        return std::nullopt;
    ConnectionEntry e;
    e.flow = flow_of(c.key);
    e.service = *service;
    e.real_server = {c.rs_address, c.rs_port};
    e.tcp_state = static_cast<std::uint8_t>(state);
    e.flags = static_cast<std::uint8_t>(
        ((c.flags & conn_nat) ? sync::entry_nat : 0) |
        ((c.flags & conn_has_template) ? sync::entry_template : 0) |
        ((c.flags & conn_expectation) ? sync::entry_expectation : 0) |
        ((c.flags & conn_track_sequence) ? sync::entry_track_sequence : 0) |
        ((c.flags & conn_tunnel) ? sync::entry_tunnel : 0));
    e.interface = c.ingress;
    std::memcpy(e.client_mac.data(), c.client_mac, 6);
    e.remaining_ms = remaining(now, c.last_seen_ms.load(std::memory_order_relaxed),
                               c.timeout_ms.load(std::memory_order_relaxed));
    if (c.flags & conn_track_sequence) {
        e.client_next_seq = c.client_next_seq.load(std::memory_order_relaxed);
        e.client_ack = c.client_ack.load(std::memory_order_relaxed);
    }
    return e;
}

std::optional<TemplateEntry> SessionBridge::template_entry(std::uint32_t index,
                                                           std::uint32_t now) const {
    const PersistenceTable& table = *ctx_.templates;
    if (index >= table.capacity())
        return std::nullopt;
    const PersistenceTemplate& t = table.at(index);
    if (!t.live.load(std::memory_order_acquire))
        return std::nullopt;
    const auto service = service_identity(t.key.service);
    if (!service)
        return std::nullopt;
    const TemplateTarget target = table.target(index);
    TemplateEntry e;
    e.client = t.key.client;
    e.prefix_length = prefix_of(snapshot_->services[t.key.service].persistence_netmask);
    e.service = *service;
    e.real_server = {target.address, target.port};
    e.remaining_ms = remaining(now, t.last_used_ms.load(std::memory_order_relaxed),
                               t.timeout_ms.load(std::memory_order_relaxed));
    return e;
}

std::optional<FtpStateEntry> SessionBridge::ftp_entry(std::uint32_t index) const {
    const ConnectionTable& table = *ctx_.connections;
    if (index >= table.capacity() || !ctx_.ftp_states)
        return std::nullopt;
    const Connection& c = table.at(index);
    const std::uint32_t state = c.ftp_state.load(std::memory_order_acquire);
    if (!c.live.load(std::memory_order_acquire) || state == no_ftp_state)
        return std::nullopt;
    FtpState& st = ctx_.ftp_states->at(state);
    FtpStateEntry e;
    e.control = flow_of(c.key);
    rte_spinlock_lock(&st.lock);
    e.correction_pos = st.server_stream.correction_pos;
    e.offset_before = st.server_stream.offset_before;
    e.offset_after = st.server_stream.offset_after;
    e.shift_active = st.server_stream.active;
    for (int d = 0; d < 2; ++d) {
        e.continuation_valid[d] = st.continuation_valid[d];
        e.continuation_seq[d] = st.continuation_seq[d];
    }
    rte_spinlock_unlock(&st.lock);
    if (!e.shift_active && !e.continuation_valid[0] && !e.continuation_valid[1])
        return std::nullopt; // nothing the standby's fresh state would not say
    return e;
}

void SessionBridge::queue_connection(std::uint32_t index, std::uint32_t now,
                                     std::vector<Entry>& out) {
    if (auto c = connection_entry(index, now)) {
        note_peer_copy(index, now + c->remaining_ms);
        out.emplace_back(*c);
        if (auto f = ftp_entry(index))
            out.emplace_back(*f);
    }
}

void SessionBridge::describe_event(std::uint32_t event, std::uint32_t now,
                                   std::vector<Entry>& out) {
    const std::uint32_t index = SyncEvent::index(event);
    switch (SyncEvent::kind(event)) {
    case SyncEventKind::connection:
        if (index < ctx_.connections->capacity())
            queue_connection(index, now, out);
        return;
    case SyncEventKind::persistence_template:
        queue_template(index, now, out);
        return;
    case SyncEventKind::ftp_state:
        if (auto f = ftp_entry(index))
            out.emplace_back(*f);
        return;
    }
}

void SessionBridge::defer(std::uint32_t index) {
    if (index >= peer_expiry_.size() || peer_expiry_[index] != 0)
        return; // the peer has it already: this is a change, sent when settled
    first_copy_pending_[index] = true;
    // Marked as if the peer held a copy expiring with ours: the sweep neither takes it for
    // "never sent" nor for "about to expire there" until settle() has decided.
    const Connection& c = ctx_.connections->at(index);
    note_peer_copy(index, c.last_seen_ms.load(std::memory_order_relaxed) +
                              c.timeout_ms.load(std::memory_order_relaxed));
}

void SessionBridge::settle(std::uint32_t index, std::uint32_t now, std::vector<Entry>& out) {
    if (index >= ctx_.connections->capacity())
        return;
    const Connection& c = ctx_.connections->at(index);
    const TcpState state = c.state.load(std::memory_order_relaxed);
    const bool first = first_copy_pending_[index];
    first_copy_pending_[index] = false;
    // Ending already, and the peer never had it (first settle, or an earlier one dropped it):
    // never sent.
    if ((first || peer_expiry_[index] == 0) &&
        (state == TcpState::fin_wait || state == TcpState::close)) {
        peer_expiry_[index] = 0;
        return;
    }
    queue_connection(index, now, out);
}

void SessionBridge::queue_template(std::uint32_t index, std::uint32_t now,
                                   std::vector<Entry>& out) {
    if (auto t = template_entry(index, now)) {
        peer_template_expiry_[index] = (now + t->remaining_ms) | 1;
        out.emplace_back(*t);
    }
}

void SessionBridge::sweep(std::uint32_t budget, std::uint32_t now, std::vector<Entry>& out) {
    sweep_connections(budget, now, out);
    sweep_templates(budget, now, out);
}

// The peer's copy outlived by ours by more than a second and past half its life: send it again
// (wrap-safe on the millisecond clock).
static bool copy_needs_refresh(std::uint32_t ours, std::uint32_t theirs, std::uint32_t now,
                               std::uint32_t timeout) {
    const auto outlives = static_cast<std::int32_t>(ours - theirs);
    const auto left = static_cast<std::int32_t>(theirs - now);
    return outlives > 1000 && left < static_cast<std::int32_t>(timeout / 2);
}

void SessionBridge::sweep_templates(std::uint32_t budget, std::uint32_t now,
                                    std::vector<Entry>& out) {
    const PersistenceTable& table = *ctx_.templates;
    const std::uint32_t cap = table.capacity();
    for (std::uint32_t n = 0; n < budget && n < cap; ++n) {
        if (template_sweep_cursor_ >= cap)
            template_sweep_cursor_ = 0;
        const std::uint32_t i = template_sweep_cursor_++;
        const PersistenceTemplate& t = table.at(i);
        if (!t.live.load(std::memory_order_acquire)) {
            peer_template_expiry_[i] = 0;
            continue;
        }
        const std::uint32_t timeout = t.timeout_ms.load(std::memory_order_relaxed);
        const std::uint32_t ours = t.last_used_ms.load(std::memory_order_relaxed) + timeout;
        const std::uint32_t theirs = peer_template_expiry_[i];
        if (theirs == 0 || copy_needs_refresh(ours, theirs, now, timeout))
            queue_template(i, now, out);
    }
}

void SessionBridge::sweep_connections(std::uint32_t budget, std::uint32_t now,
                                      std::vector<Entry>& out) {
    const ConnectionTable& table = *ctx_.connections;
    const std::uint32_t cap = table.capacity();
    for (std::uint32_t n = 0; n < budget && n < cap; ++n) {
        if (sweep_cursor_ >= cap)
            sweep_cursor_ = 0;
        const std::uint32_t i = sweep_cursor_++;
        const Connection& c = table.at(i);
        if (!c.live.load(std::memory_order_acquire))
            continue;
        const std::uint32_t timeout = c.timeout_ms.load(std::memory_order_relaxed);
        const std::uint32_t ours = c.last_seen_ms.load(std::memory_order_relaxed) + timeout;
        const std::uint32_t theirs = peer_expiry_[i];
        const bool never_sent = theirs == 0;
        const TcpState state = c.state.load(std::memory_order_relaxed);
        if (never_sent && (state == TcpState::fin_wait || state == TcpState::close))
            continue; // ending: a copy would expire on the peer before it mattered
        if (never_sent || copy_needs_refresh(ours, theirs, now, timeout))
            queue_connection(i, now, out);
    }
}

std::optional<DeletionEntry> SessionBridge::expired(std::uint32_t index, const Connection& c,
                                                    std::uint32_t now) {
    if (index >= peer_expiry_.size() || peer_expiry_[index] == 0)
        return std::nullopt;
    peer_expiry_[index] = 0;
    DeletionEntry d;
    d.kind = sync::DeletedKind::connection;
    d.flow = flow_of(c.key);
    d.idle_ms = age_ms(now, c.last_seen_ms.load(std::memory_order_relaxed));
    return d;
}

std::optional<Entry> SessionBridge::current(const Entry& entry, std::uint32_t now) const {
    if (const auto* c = std::get_if<ConnectionEntry>(&entry)) {
        if (auto hit = ctx_.connections->lookup(key_of(c->flow)))
            if (auto e = connection_entry(hit->index, now))
                return Entry{*e};
        return std::nullopt;
    }
    if (const auto* t = std::get_if<TemplateEntry>(&entry)) {
        const auto service = bind_service(t->service);
        if (!service)
            return std::nullopt;
        if (auto i = ctx_.templates->find({t->client, *service, 0}))
            if (auto e = template_entry(*i, now))
                return Entry{*e};
        return std::nullopt;
    }
    if (const auto* f = std::get_if<FtpStateEntry>(&entry)) {
        if (auto hit = ctx_.connections->lookup(key_of(f->control)))
            if (auto e = ftp_entry(hit->index))
                return Entry{*e};
        return std::nullopt;
    }
    return entry; // deletions are sent as they are
}

bool SessionBridge::dump(std::uint64_t& cursor, std::vector<Entry>& out, std::uint32_t now) {
    // Templates first, so that the connections created under them find them on the peer.
    constexpr std::uint32_t batch = 256;
    const std::uint64_t templates = ctx_.templates->capacity();
    const std::uint64_t total = templates + ctx_.connections->capacity();
    for (std::uint32_t n = 0; n < batch && cursor < total; ++n, ++cursor) {
        if (cursor < templates) {
            if (auto t = template_entry(static_cast<std::uint32_t>(cursor), now))
                out.emplace_back(*t);
        } else {
            queue_connection(static_cast<std::uint32_t>(cursor - templates), now, out);
        }
    }
    return cursor < total;
}

void SessionBridge::apply(const Entry& entry, std::uint32_t now) {
    if (!snapshot_)
        return;
    if (const auto* c = std::get_if<ConnectionEntry>(&entry))
        apply_connection(*c, now);
    else if (const auto* t = std::get_if<TemplateEntry>(&entry))
        apply_template(*t, now);
    else if (const auto* f = std::get_if<FtpStateEntry>(&entry))
        apply_ftp_state(*f);
    else if (const auto* d = std::get_if<DeletionEntry>(&entry))
        apply_deletion(*d, now);
}

void SessionBridge::retire_connection(std::uint32_t index) {
    if (ctx_.connections->remove(index))
        release_attachments(ctx_, ctx_.connections->at(index));
}

void SessionBridge::apply_connection(const ConnectionEntry& e, std::uint32_t now) {
    const auto service = bind_service(e.service);
    const auto rs = service ? bind_real_server(*service, e.real_server) : std::nullopt;
    if (!rs || e.interface >= snapshot_->interfaces.size()) {
        ++counters_.unbound;
        return;
    }
    if (e.tcp_state > static_cast<std::uint8_t>(TcpState::close)) {
        ++counters_.refused;
        return;
    }
    const bool expectation = e.flags & sync::entry_expectation;
    const auto state = static_cast<TcpState>(e.tcp_state);
    ConnectionSpec spec;
    spec.key = key_of(e.flow);
    spec.rs_address = e.real_server.address;
    spec.rs_port = e.real_server.port;
    spec.service = *service;
    spec.real_server = *rs;
    spec.ingress = e.interface;
    spec.flags = static_cast<std::uint8_t>(
        ((e.flags & sync::entry_nat) ? conn_nat : 0) | (expectation ? conn_expectation : 0) |
        ((e.flags & sync::entry_track_sequence) ? conn_track_sequence : 0) |
        ((e.flags & sync::entry_tunnel) ? conn_tunnel : 0));
    std::memcpy(spec.client_mac, e.client_mac.data(), 6);
    // Our timeout for its state, aged by what the peer says has passed (or the peer's, when
    // longer): it expires here when it would have there, and a new packet gives it our full
    // timeout like any other connection.
    const std::uint32_t timeout = std::max(full_timeout(state, expectation), e.remaining_ms);
    const std::uint32_t last_seen = now - (timeout - e.remaining_ms);

    ConnectionTable& table = *ctx_.connections;
    if (auto hit = table.lookup(spec.key); hit && hit->direction == KeyDirection::from_client) {
        Connection& c = table.at(hit->index);
        // Several peers may send the same connection (ECMP moved the flow: two nodes forwarded
        // it), and a peer's copy may be older than ours (the flow runs through this node now):
        // the copy last seen latest wins, whoever sent it; a tie goes to the peer.
        if (newer(c.last_seen_ms.load(std::memory_order_relaxed), last_seen)) {
            ++counters_.superseded;
            return;
        }
        if (c.rs_address == spec.rs_address && c.rs_port == spec.rs_port &&
            c.flags == (spec.flags | (c.flags & conn_has_template))) {
            c.state.store(state, std::memory_order_relaxed);
            c.timeout_ms.store(timeout, std::memory_order_relaxed);
            c.last_seen_ms.store(last_seen, std::memory_order_relaxed);
            if (spec.flags & conn_track_sequence) {
                c.client_next_seq.store(e.client_next_seq, std::memory_order_relaxed);
                c.client_ack.store(e.client_ack, std::memory_order_relaxed);
            }
            note_peer_copy(hit->index, last_seen + timeout);
            ++counters_.applied;
            return;
        }
        retire_connection(hit->index); // the peer chose another server since: its word wins
    }
    if (e.flags & sync::entry_template) {
        const ServiceEntry& svc = snapshot_->services[*service];
        const PersistenceKey pkey{spec.key.src_ip & svc.persistence_netmask, *service, 0};
        if (auto t = ctx_.templates->find_and_attach(pkey, now)) {
            spec.template_index = t->index;
            spec.flags |= conn_has_template;
        }
    }
    std::uint32_t index = 0;
    InsertResult r = table.insert(spec, state, last_seen, timeout, &index);
    if (r == InsertResult::reply_tuple_in_use) {
        // A connection of ours that the peer's is newer than (the client reused the port):
        // make room.
        if (auto old = table.lookup(spec.reply_key())) {
            retire_connection(old->index);
            r = table.insert(spec, state, last_seen, timeout, &index);
        }
    }
    if (r != InsertResult::inserted) {
        if (spec.template_index != no_template)
            ctx_.templates->detach(spec.template_index);
        ++counters_.refused;
        return;
    }
    note_peer_copy(index, last_seen + timeout);
    Connection& c = table.at(index);
    if (spec.flags & conn_track_sequence) {
        c.client_next_seq.store(e.client_next_seq, std::memory_order_relaxed);
        c.client_ack.store(e.client_ack, std::memory_order_relaxed);
    }
    if (!expectation) {
        ctx_.load->add(spec.real_server, 1);
        const ServiceEntry& svc = snapshot_->services[*service];
        if ((spec.flags & conn_nat) && svc.ftp_control_port != 0 &&
            spec.key.dst_port == svc.ftp_control_port && ctx_.ftp_states)
            if (auto st = ctx_.ftp_states->allocate())
                c.ftp_state.store(*st, std::memory_order_release);
    }
    ++counters_.applied;
}

void SessionBridge::apply_template(const TemplateEntry& e, std::uint32_t now) {
    const auto service = bind_service(e.service);
    const auto rs = service ? bind_real_server(*service, e.real_server) : std::nullopt;
    if (!rs) {
        ++counters_.unbound;
        return;
    }
    const ServiceEntry& svc = snapshot_->services[*service];
    if (!svc.persistent) {
        ++counters_.unbound;
        return;
    }
    const std::uint32_t timeout = std::max(svc.persistence_timeout_ms, e.remaining_ms);
    const TemplateTarget target{*rs, e.real_server.port, e.real_server.address};
    const std::uint32_t last_used = now - (timeout - e.remaining_ms);
    const PersistenceKey key{e.client & svc.persistence_netmask, *service, 0};
    // Two nodes may each have chosen a server for the same client (its connections spread over
    // them by ECMP): the template used latest wins on every node, as for connections.
    if (const auto mine = ctx_.templates->find(key))
        if (newer(ctx_.templates->at(*mine).last_used_ms.load(std::memory_order_relaxed),
                  last_used)) {
            ++counters_.superseded;
            return;
        }
    if (ctx_.templates->install(key, target, last_used, timeout))
        ++counters_.applied;
    else
        ++counters_.refused;
}

void SessionBridge::apply_ftp_state(const FtpStateEntry& e) {
    const auto hit = ctx_.connections->lookup(key_of(e.control));
    if (!hit || !ctx_.ftp_states) {
        ++counters_.unbound; // its control connection did not bind
        return;
    }
    Connection& c = ctx_.connections->at(hit->index);
    std::uint32_t state = c.ftp_state.load(std::memory_order_acquire);
    if (state == no_ftp_state) {
        const auto allocated = ctx_.ftp_states->allocate();
        if (!allocated) {
            ++counters_.refused;
            return;
        }
        state = *allocated;
        c.ftp_state.store(state, std::memory_order_release);
    }
    FtpState& st = ctx_.ftp_states->at(state);
    rte_spinlock_lock(&st.lock);
    st.server_stream.correction_pos = e.correction_pos;
    st.server_stream.offset_before = e.offset_before;
    st.server_stream.offset_after = e.offset_after;
    st.server_stream.active = e.shift_active;
    for (int d = 0; d < 2; ++d) {
        st.continuation_valid[d] = e.continuation_valid[d];
        st.continuation_seq[d] = e.continuation_seq[d];
        st.held_valid[d] = false;
    }
    rte_spinlock_unlock(&st.lock);
    ++counters_.applied;
}

void SessionBridge::apply_deletion(const DeletionEntry& e, std::uint32_t now) {
    if (e.kind != sync::DeletedKind::connection)
        return; // templates expire on their own clock on both nodes
    const auto hit = ctx_.connections->lookup(key_of(e.flow));
    if (!hit || hit->direction != KeyDirection::from_client)
        return;
    // The peer last saw the flow `idle_ms` before it deleted it: a copy we saw later is alive
    // here (the peer's copy expired while the sync link was down, say), and stays.
    const std::uint32_t peer_last_seen = now - e.idle_ms;
    if (newer(ctx_.connections->at(hit->index).last_seen_ms.load(std::memory_order_relaxed),
              peer_last_seen)) {
        ++counters_.deletions_refused;
        return;
    }
    retire_connection(hit->index);
    peer_expiry_[hit->index] = 0;
    ++counters_.deleted;
}

} // namespace lb::control::replication
