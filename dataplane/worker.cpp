#include "dataplane/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_tcp.h>

#include "dataplane/local_replies.hpp"
#include "dataplane/nat_rewrite.hpp"
#include "dataplane/tunnel.hpp"

namespace lb::dataplane {

namespace {

// An established connection's segment without SYN, FIN or RST changes nothing in
// update_tcp_state: the common case skips the call.
bool tcp_state_may_change(const Connection& c, std::uint8_t flags) {
    return (flags & (RTE_TCP_SYN_FLAG | RTE_TCP_FIN_FLAG | RTE_TCP_RST_FLAG)) != 0 ||
           c.state.load(std::memory_order_relaxed) != TcpState::established;
}

bool is_plain_syn(const ParsedFrame& f) {
    return f.kind == FrameKind::tcp && (f.tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG |
                                                       RTE_TCP_RST_FLAG)) == RTE_TCP_SYN_FLAG;
}

} // namespace

Worker::Worker(DataplaneContext& context, unsigned id, WorkerCounters& counters,
               rte_ring* sync_events)
    : ctx_(context), id_(id), counters_(counters), sync_(sync_events, counters.sync_events_lost),
      ftp_(context, counters, sync_) {}

void Worker::drop(rte_mbuf* m, DropReason reason) {
    counters_.drop(reason);
    rte_pktmbuf_free(m);
}

void Worker::flush(const Snapshot& s) {
    for (std::size_t i = 0; i < s.interfaces.size(); ++i) {
        TxBatch& k = kernel_tx_[i];
        if (k.count != 0) {
            const std::uint16_t sent =
                rte_eth_tx_burst(s.interfaces[i].kernel_port, static_cast<std::uint16_t>(id_),
                                 k.frames.data(), k.count);
            for (std::uint16_t j = sent; j < k.count; ++j)
                drop(k.frames[j], DropReason::tx_full);
            k.count = 0;
        }
        TxBatch& b = tx_[i];
        if (b.count == 0)
            continue;
        std::uint64_t bytes = 0;
        for (std::uint16_t k = 0; k < b.count; ++k)
            bytes += rte_pktmbuf_pkt_len(b.frames[k]);
        const std::uint16_t sent = rte_eth_tx_burst(
            s.interfaces[i].port_id, static_cast<std::uint16_t>(id_), b.frames.data(), b.count);
        for (std::uint16_t k = sent; k < b.count; ++k) {
            bytes -= rte_pktmbuf_pkt_len(b.frames[k]);
            drop(b.frames[k], DropReason::tx_full);
        }
        counters_.tx_packets.add(sent);
        counters_.tx_bytes.add(bytes);
        b.count = 0;
    }
}

void Worker::update_tcp_state(Connection& c, std::uint8_t flags, bool from_client) {
    const TcpState before = c.state.load(std::memory_order_relaxed);
    TcpState after = before;
    if (flags & RTE_TCP_RST_FLAG) {
        after = TcpState::close;
    } else if (flags & RTE_TCP_FIN_FLAG) {
        if (before != TcpState::close)
            after = TcpState::fin_wait;
    } else if (from_client) {
        if ((flags & RTE_TCP_SYN_FLAG) && !(flags & RTE_TCP_ACK_FLAG)) {
            // A new SYN on a closing connection: the client reuses the port; same server, but
            // a new TCP session: what the FTP helper knew of the old one no longer applies.
            if (before == TcpState::fin_wait || before == TcpState::close) {
                after = TcpState::syn_sent;
                if (const auto ftp = c.ftp_state.load(std::memory_order_relaxed);
                    ftp != no_ftp_state)
                    ftp_.restart(ftp);
            }
        } else if ((flags & RTE_TCP_ACK_FLAG) &&
                   (before == TcpState::syn_sent || before == TcpState::syn_received)) {
            after = TcpState::established;
        }
    } else if ((flags & RTE_TCP_SYN_FLAG) && (flags & RTE_TCP_ACK_FLAG) &&
               before == TcpState::syn_sent) {
        after = TcpState::syn_received;
    }
    if (after == before)
        return;
    c.state.store(after, std::memory_order_relaxed);
    // Replicated once established (a handshake that never completes is not worth a message),
    // and every change after that, so that the standby's copy closes and expires with ours.
    if (after == TcpState::established || before >= TcpState::established)
        sync_.connection(ctx_.connections->index_of(c));
    const TimeoutsMs& t = snapshot_->timeouts;
    std::uint32_t timeout = t.tcp_established;
    switch (after) {
    case TcpState::syn_sent:
    case TcpState::syn_received:
        timeout = t.tcp_syn;
        break;
    case TcpState::fin_wait:
        timeout = t.tcp_fin;
        break;
    case TcpState::close:
        timeout = t.tcp_close;
        break;
    default:
        break;
    }
    c.timeout_ms.store(timeout, std::memory_order_relaxed);
}

[[gnu::always_inline]] inline void Worker::count_traffic(const Connection& c, std::uint32_t length,
                                                         Counter TrafficCounters::*packets,
                                                         Counter TrafficCounters::*bytes) {
    TrafficCounters& service = counters_.services[c.service];
    TrafficCounters& server = counters_.real_servers[c.real_server];
    (service.*packets).add();
    (service.*bytes).add(length);
    (server.*packets).add();
    (server.*bytes).add(length);
}

void Worker::remember_client_sequence(Connection& c, const ParsedFrame& f) {
    const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(f.l4);
    const std::uint32_t payload = f.l4_length - (tcp->data_off >> 4) * 4u;
    const std::uint32_t next = rte_be_to_cpu_32(tcp->sent_seq) + payload +
                               ((f.tcp_flags & RTE_TCP_SYN_FLAG) ? 1 : 0) +
                               ((f.tcp_flags & RTE_TCP_FIN_FLAG) ? 1 : 0);
    c.client_next_seq.store(next, std::memory_order_relaxed);
    if (f.tcp_flags & RTE_TCP_ACK_FLAG)
        c.client_ack.store(rte_be_to_cpu_32(tcp->recv_ack), std::memory_order_relaxed);
}

void Worker::forward_to_real_server(rte_mbuf* m, const ParsedFrame& f, Connection& c,
                                    std::uint32_t now) {
    const RealServerEntry& rs = snapshot_->real_servers[c.real_server];
    if ((c.flags & conn_tunnel) && !fits_tunnel(m, f, c, rs))
        return;
    rte_ether_addr next_hop;
    if (!ctx_.neighbours->resolve(rs.neighbour, next_hop)) {
        drop(m, DropReason::neighbour_unresolved);
        return;
    }
    c.touch(now);
    if (f.kind == FrameKind::tcp) {
        if (tcp_state_may_change(c, f.tcp_flags))
            update_tcp_state(c, f.tcp_flags, true);
        if (c.flags & conn_track_sequence)
            remember_client_sequence(c, f);
    }
    if (c.flags & conn_nat) {
        if (c.ftp_state.load(std::memory_order_relaxed) != no_ftp_state &&
            !ftp_.from_client(c, m, f, now)) {
            rte_pktmbuf_free(m); // beyond a held-back line: counted by the helper
            return;
        }
        rewrite_destination(f.ip, f.l4, c.rs_address, c.rs_port);
    }
    const InterfaceEntry& egress = snapshot_->interfaces[rs.egress];
    if (c.flags & conn_tunnel) {
        // encapsulate_ipip writes the Ethernet header anew, in front of the outer one.
        if (!encapsulate_ipip(m, egress.address, rs.address, egress.mac, next_hop)) {
            drop(m, DropReason::no_headroom);
            return;
        }
    } else {
        f.eth->dst_addr = next_hop;
        f.eth->src_addr = egress.mac;
    }
    count_traffic(c, rte_pktmbuf_pkt_len(m), &TrafficCounters::packets_in,
                  &TrafficCounters::bytes_in);
    enqueue(rs.egress, m);
}

bool Worker::fits_tunnel(rte_mbuf* m, const ParsedFrame& f, const Connection& c,
                         const RealServerEntry& rs) {
    const std::uint16_t mtu = snapshot_->interfaces[rs.egress].mtu;
    if (rte_be_to_cpu_16(f.ip->total_length) + ipip_overhead <= mtu)
        return true;
    // lb does not fragment: the sender must send smaller packets (DF set: it is told so, as
    // a router on its path would tell it), or they are lost (README, "Tunnel forwarding").
    if (!(f.ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG))) {
        drop(m, DropReason::too_big_for_tunnel_no_df);
        return false;
    }
    // From the VIP's MAC: the virtual one when a VRRP instance owns the VIP.
    const std::uint8_t vrrp = snapshot_->services[c.service].vrrp_instance;
    const rte_ether_addr& mac = vrrp != no_vrrp_instance ? snapshot_->vrrp_instances[vrrp].mac
                                                         : snapshot_->interfaces[c.ingress].mac;
    counters_.drop(DropReason::too_big_for_tunnel);
    if (!make_icmp_frag_needed(m, f.ip, static_cast<std::uint16_t>(mtu - ipip_overhead), mac)) {
        rte_pktmbuf_free(m);
        return false;
    }
    counters_.icmp_frag_needed_sent.add();
    enqueue(c.ingress, m);
    return false;
}

void Worker::forward_reply_to_client(rte_mbuf* m, const ParsedFrame& f, Connection& c,
                                     std::uint32_t now) {
    c.touch(now);
    if (f.kind == FrameKind::tcp && tcp_state_may_change(c, f.tcp_flags))
        update_tcp_state(c, f.tcp_flags, false);
    if (c.ftp_state.load(std::memory_order_relaxed) != no_ftp_state &&
        !ftp_.from_server(c, m, f, now)) {
        rte_pktmbuf_free(m); // beyond a held-back line: counted by the helper
        return;
    }
    rewrite_source(f.ip, f.l4, c.key.dst_ip, c.key.dst_port);
    std::memcpy(f.eth->dst_addr.addr_bytes, c.client_mac, 6);
    f.eth->src_addr = snapshot_->interfaces[c.ingress].mac;
    count_traffic(c, rte_pktmbuf_pkt_len(m), &TrafficCounters::packets_out,
                  &TrafficCounters::bytes_out);
    enqueue(c.ingress, m);
}

Worker::ServerChoice Worker::choose_real_server(std::uint16_t service, const FlowKey& key,
                                                std::uint32_t now) {
    const ServiceEntry& svc = snapshot_->services[service];
    ServerChoice choice;
    if (!svc.persistent) {
        choice.real_server = schedule(*snapshot_, service, key, cursors_, *ctx_.load);
        return choice;
    }

    PersistenceTable& templates = *ctx_.templates;
    const PersistenceKey pkey{key.src_ip & svc.persistence_netmask, service, 0};
    auto target_of = [&](int rs) {
        const RealServerEntry& e = snapshot_->real_servers[rs];
        return TemplateTarget{static_cast<std::uint16_t>(rs), e.port, e.address};
    };
    // Still the same server (not removed or renumbered) and still taking new connections.
    auto usable = [&](TemplateTarget t) {
        return still_configured(service, t) && snapshot_->real_servers[t.real_server].available();
    };
    auto attached = templates.find_and_attach(pkey, now);
    if (!attached) {
        const int rs = schedule(*snapshot_, service, key, cursors_, *ctx_.load);
        if (rs == no_real_server)
            return choice;
        attached =
            templates.create_and_attach(pkey, target_of(rs), now, svc.persistence_timeout_ms);
        if (!attached) {
            choice.refusal = DropReason::template_table_full;
            return choice;
        }
        sync_.persistence_template(attached->index);
    }
    const TemplateTarget target = templates.target(attached->index);
    int rs = target.real_server;
    if (!attached->still_valid || !usable(target)) {
        // The template's server is drained or gone, or the template outlived its timeout:
        // choose again and point the template at the new choice.
        rs = schedule(*snapshot_, service, key, cursors_, *ctx_.load);
        if (rs == no_real_server) {
            templates.detach(attached->index);
            return choice;
        }
        templates.set_target(attached->index, target_of(rs));
        sync_.persistence_template(attached->index);
    }
    templates.refresh(attached->index, now);
    choice.real_server = rs;
    choice.template_index = attached->index;
    return choice;
}

bool Worker::still_configured(std::uint16_t service, const TemplateTarget& t) const {
    if (t.real_server >= snapshot_->real_servers.size())
        return false;
    const RealServerEntry& e = snapshot_->real_servers[t.real_server];
    return e.service == service && e.address == t.address && e.port == t.port && !e.removed;
}

Worker::ServerChoice Worker::follow_template(std::uint16_t service, const FlowKey& key,
                                             std::uint32_t now) {
    const ServiceEntry& svc = snapshot_->services[service];
    PersistenceTable& templates = *ctx_.templates;
    ServerChoice choice;
    choice.refusal = DropReason::no_persistence_template;
    auto attached =
        templates.find_and_attach({key.src_ip & svc.persistence_netmask, service, 0}, now);
    if (!attached)
        return choice;
    const TemplateTarget target = templates.target(attached->index);
    // A drained server still gets this connection: it belongs to a session it already has
    // (the real server opened it). A removed server or a stale template does not.
    if (!attached->still_valid || !still_configured(service, target)) {
        templates.detach(attached->index);
        return choice;
    }
    templates.refresh(attached->index, now);
    choice.real_server = target.real_server;
    choice.template_index = attached->index;
    return choice;
}

bool Worker::prepare_from_expectation(Pending& p, std::uint8_t ingress, NewConnection& out) {
    const ParsedFrame& f = p.parsed;
    FlowKey announced = f.key;
    announced.src_port = 0;
    const auto hit = ctx_.connections->lookup(announced);
    if (!hit)
        return false;
    const Connection& e = ctx_.connections->at(hit->index);
    if (!(e.flags & conn_expectation))
        return false;
    const auto index = ctx_.connections->reserve();
    if (!index)
        return false;
    ConnectionSpec& spec = out.spec;
    spec = ConnectionSpec{};
    spec.key = f.key;
    spec.rs_address = e.rs_address;
    spec.rs_port = e.rs_port;
    spec.service = e.service;
    spec.real_server = e.real_server;
    spec.ingress = ingress;
    spec.flags = conn_nat;
    std::memcpy(spec.client_mac, f.eth->src_addr.addr_bytes, 6);
    out.state = TcpState::syn_sent;
    out.timeout = snapshot_->timeouts.tcp_syn;
    out.pending = &p;
    out.index = *index;
    ctx_.connections->prefetch_for_insert(out.index, spec);
    return true;
}

bool Worker::prepare_new_connection(Pending& p, std::uint8_t ingress, std::uint32_t now,
                                    NewConnection& out) {
    const ParsedFrame& f = p.parsed;
    // An FTP passive data connection the helper announced goes to its control connection's
    // real server, whatever the service's scheduler or persistence would say.
    if (snapshot_->has_ftp && is_plain_syn(f) && prepare_from_expectation(p, ingress, out))
        return true;
    if (p.service == unclaimed_port) {
        drop(p.frame, DropReason::no_service);
        return false;
    }
    const auto service = static_cast<std::uint16_t>(p.service);
    const ServiceEntry& svc = snapshot_->services[service];
    out.state = TcpState::none;
    out.timeout = snapshot_->timeouts.udp;
    bool follow_only = false;
    if (f.kind == FrameKind::tcp) {
        if (is_plain_syn(f)) {
            out.state = TcpState::syn_sent;
            out.timeout = snapshot_->timeouts.tcp_syn;
        } else if (svc.scheduler == SchedulerKind::mh && !(f.tcp_flags & RTE_TCP_RST_FLAG)) {
            // Mid-flow packet with no entry (e.g. it beat replication across a failover): the
            // Maglev choice is the same on every node, so adopt the flow.
            out.state = TcpState::established;
            out.timeout = snapshot_->timeouts.tcp_established;
        } else if (svc.port_group && svc.persistent && !(f.tcp_flags & RTE_TCP_RST_FLAG)) {
            // A connection the real server opened itself towards the client (FTP active mode
            // in DR: VIP:20 → client goes out directly; the client's SYN-ACK and ACKs come to
            // us). It belongs to the client's session: follow its template, never schedule.
            follow_only = true;
            const bool syn_ack = (f.tcp_flags & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) ==
                                 (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG);
            out.state = syn_ack ? TcpState::syn_received : TcpState::established;
            out.timeout =
                syn_ack ? snapshot_->timeouts.tcp_syn : snapshot_->timeouts.tcp_established;
        } else if ((svc.reset_unknown ||
                    ctx_.reset_unknown_flows.load(std::memory_order_relaxed)) &&
                   !(f.tcp_flags & RTE_TCP_RST_FLAG)) {
            // A segment of a connection we reset (or never had): tell the client, exactly.
            counters_.drop(DropReason::no_connection);
            counters_.resets_sent.add();
            make_tcp_reset(p.frame, f.eth, f.ip, f.l4, snapshot_->interfaces[ingress].mac);
            enqueue(ingress, p.frame);
            return false;
        } else {
            drop(p.frame, DropReason::no_connection);
            return false;
        }
    }
    const ServerChoice choice = follow_only ? follow_template(service, f.key, now)
                                            : choose_real_server(service, f.key, now);
    if (!choice.chosen()) {
        drop(p.frame, choice.refusal);
        return false;
    }
    const int rs = choice.real_server;
    const std::uint32_t template_index = choice.template_index;
    const auto index = ctx_.connections->reserve();
    if (!index) {
        if (template_index != no_template)
            ctx_.templates->detach(template_index);
        drop(p.frame, DropReason::table_full);
        return false;
    }
    const RealServerEntry& server = snapshot_->real_servers[rs];
    ConnectionSpec& spec = out.spec;
    spec.key = f.key;
    spec.rs_address = server.address;
    spec.rs_port = server.port != 0 ? server.port : f.key.dst_port;
    spec.service = service;
    spec.real_server = static_cast<std::uint16_t>(rs);
    spec.ingress = ingress;
    spec.flags =
        static_cast<std::uint8_t>((svc.forwarding == ForwardingKind::nat ? conn_nat : 0) |
                                  (svc.forwarding == ForwardingKind::tunnel ? conn_tunnel : 0) |
                                  (template_index != no_template ? conn_has_template : 0) |
                                  (svc.reset_unknown ? conn_track_sequence : 0));
    std::memcpy(spec.client_mac, f.eth->src_addr.addr_bytes, 6);
    spec.template_index = template_index;
    out.pending = &p;
    out.index = *index;
    ctx_.connections->prefetch_for_insert(out.index, spec);
    return true;
}

void Worker::finish_new_connection(NewConnection& n, std::uint32_t now) {
    Pending& p = *n.pending;
    const InsertResult r =
        ctx_.connections->insert_reserved(n.index, n.spec, n.state, now, n.timeout);
    if (r != InsertResult::inserted) {
        if (n.spec.template_index != no_template)
            ctx_.templates->detach(n.spec.template_index);
        // Another packet of this flow (in this burst, or on another worker a moment ago)
        // created it first: follow that choice.
        if (auto hit = ctx_.connections->lookup(p.parsed.key)) {
            forward_to_real_server(p.frame, p.parsed, ctx_.connections->at(hit->index), now);
            return;
        }
        drop(p.frame, r == InsertResult::reply_tuple_in_use ? DropReason::nat_tuple_conflict
                                                            : DropReason::table_full);
        return;
    }
    ctx_.load->add(n.spec.real_server, 1);
    // UDP flows are replicated on creation; TCP ones once established (update_tcp_state), which
    // an adopted mid-flow connection already is.
    if (n.state == TcpState::none || n.state == TcpState::established)
        sync_.connection(n.index);
    const ServiceEntry& svc = snapshot_->services[n.spec.service];
    if (svc.ftp_control_port != 0 && n.spec.key.dst_port == svc.ftp_control_port &&
        (n.spec.flags & conn_nat)) {
        // An FTP control connection: the helper's state, published after the connection (its
        // first packets carry no payload).
        if (auto state = ctx_.ftp_states->allocate())
            ctx_.connections->at(n.index).ftp_state.store(*state, std::memory_order_release);
        else
            counters_.ftp.not_rewritable.add();
    }
    counters_.services[n.spec.service].connections.add();
    counters_.real_servers[n.spec.real_server].connections.add();
    forward_to_real_server(p.frame, p.parsed, ctx_.connections->at(n.index), now);
}

std::int32_t Worker::classify(const ParsedFrame& f, bool vrrp) const {
    const int service = snapshot_->service_index.find(f.key.dst_ip, f.key.protocol, f.key.dst_port);
    if (service >= 0) {
        if (vrrp && !ctx_.owns(snapshot_->services[service].vrrp_instance))
            return not_master; // a backup: the VIP is the master's
        return service;
    }
    if (!snapshot_->service_index.is_vip(f.key.dst_ip))
        return no_service;
    // A VIP port no service claims may still carry a connection: one of a service a reload
    // removed (draining), or an FTP passive data connection announced by a 227/229 reply. On a
    // miss only an FTP announcement can take it.
    if (vrrp && !ctx_.owns(snapshot_->vrrp_instance_of(f.key.dst_ip)))
        return not_master;
    return unclaimed_port;
}

void Worker::use_snapshot(const Snapshot* snapshot) {
    snapshot_ = snapshot;
    ftp_.use_snapshot(snapshot);
    if (snapshot_->generation != snapshot_generation_) {
        snapshot_generation_ = snapshot_->generation;
        cursors_.reset();
    }
}

void Worker::process(rte_mbuf** frames, std::uint16_t count, std::uint8_t ingress,
                     std::uint32_t now) noexcept {
    use_snapshot(ctx_.snapshot.load(std::memory_order_acquire));
    process_burst(frames, count, ingress, now);
}

void Worker::process_burst(rte_mbuf** frames, std::uint16_t count, std::uint8_t ingress,
                           std::uint32_t now) {
    const InterfaceEntry& iface = snapshot_->interfaces[ingress];
    // Per burst: without VRRP every address is ours, and packets skip the ownership checks.
    const bool vrrp = !snapshot_->vrrp_instances.empty();

    Pending* pending = pending_;
    const FlowKey* keys[max_pending];
    std::uint32_t pending_count = 0;

    std::uint64_t rx_bytes = 0;
    for (std::uint16_t i = 0; i < count; ++i) {
        if (i + 1 < count)
            rte_prefetch0(rte_pktmbuf_mtod(frames[i + 1], void*));
        rte_mbuf* m = frames[i];
        rx_bytes += rte_pktmbuf_pkt_len(m);
        // Parse straight into the next pending slot; it is only kept for TCP and UDP.
        Pending& p = pending[pending_count];
        ParsedFrame& f = p.parsed;
        parse_frame(m, f);
        switch (f.kind) {
        case FrameKind::drop:
            drop(m, f.drop_reason);
            continue;
        case FrameKind::arp:
            handle_arp(m, f, ingress, now);
            continue;
        case FrameKind::icmp:
            handle_icmp(m, f, ingress);
            continue;
        case FrameKind::vrrp:
            to_control(m, ingress);
            continue;
        case FrameKind::tcp6:
        case FrameKind::udp6:
        case FrameKind::icmp6:
            handle_ipv6(m, f, ingress);
            continue;
        case FrameKind::tcp:
        case FrameKind::udp:
            break;
        }
        int service = service_not_looked_up;
        if (f.key.dst_ip == iface.address) {
            // The node's own address: the kernel's, unless a service claims the port.
            service = classify(f, vrrp);
            if (service == not_master) {
                drop(m, DropReason::not_master);
                continue;
            }
            if (service < 0) {
                if (iface.kernel_port != no_port)
                    to_kernel(ingress, m);
                else
                    drop(m, DropReason::to_node);
                continue;
            }
        }
        p.frame = m;
        p.service = service;
        keys[pending_count] = &p.parsed.key;
        ++pending_count;
    }

    counters_.rx_packets.add(count);
    counters_.rx_bytes.add(rx_bytes);

    ConnectionHit hits[max_pending];
    const std::uint64_t found = ctx_.connections->lookup_bulk(keys, pending_count, hits);
    // The bulk lookup compared each key inside its connection entry, so the entries are in
    // cache now: processing below does not wait on memory per packet.
    // Established flows first; new connections are prepared (server chosen, entry reserved,
    // what the insert will touch prefetched) and then inserted together, so that their cache
    // misses overlap.
    NewConnection* fresh = fresh_;
    std::uint32_t fresh_count = 0;
    for (std::uint32_t i = 0; i < pending_count; ++i) {
        Pending& p = pending[i];
        if (found & (std::uint64_t{1} << i)) {
            Connection& c = ctx_.connections->at(hits[i].index);
            if (c.flags & conn_expectation) // matched only by a source port of 0
                drop(p.frame, DropReason::no_connection);
            else if (vrrp && !ctx_.owns(snapshot_->services[c.service].vrrp_instance))
                // A backup: the VIP is the master's (a removed service's entry stays, with
                // its VIP's instance, for its draining connections).
                drop(p.frame, DropReason::not_master);
            else if (hits[i].direction == KeyDirection::from_client)
                forward_to_real_server(p.frame, p.parsed, c, now);
            else
                forward_reply_to_client(p.frame, p.parsed, c, now);
            continue;
        }
        if (p.service == service_not_looked_up)
            p.service = classify(p.parsed, vrrp);
        if (p.service == not_master) {
            drop(p.frame, DropReason::not_master);
        } else if (p.service >= 0 || p.service == unclaimed_port) {
            NewConnection& n = fresh[fresh_count];
            n.follows = -1;
            for (std::uint32_t k = 0; k < fresh_count && n.follows < 0; ++k)
                if (fresh[k].spec.key == p.parsed.key)
                    n.follows = static_cast<std::int32_t>(k);
            if (n.follows >= 0) {
                n.pending = &p;
                ++fresh_count;
            } else if (prepare_new_connection(p, ingress, now, n)) {
                ++fresh_count;
            }
        } else {
            drop(p.frame, DropReason::no_connection);
        }
    }
    for (std::uint32_t i = 0; i < fresh_count; ++i) {
        NewConnection& n = fresh[i];
        if (n.follows < 0) {
            finish_new_connection(n, now);
            continue;
        }
        // The connection the leader created (or any that exists by now).
        Pending& p = *n.pending;
        if (auto hit = ctx_.connections->lookup(p.parsed.key))
            forward_to_real_server(p.frame, p.parsed, ctx_.connections->at(hit->index), now);
        else
            drop(p.frame, DropReason::no_connection);
    }
}

} // namespace lb::dataplane
