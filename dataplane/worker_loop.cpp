// The worker's side of the node's own traffic and its loop: ARP and ICMP answered here, frames
// for the kernel (the exception path) and for the control thread (VRRP) handed over through
// their rings, and run(), which polls the ports and calls process_burst (worker.cpp, where the
// forwarding path lives in one translation unit so that its steps inline).
#include "dataplane/worker.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "dataplane/local_replies.hpp"

namespace lb::dataplane {

void Worker::to_kernel(std::uint8_t interface, rte_mbuf* m) {
    TxBatch& b = kernel_tx_[interface];
    if (b.count == b.frames.size()) {
        drop(m, DropReason::tx_full);
        return;
    }
    counters_.to_kernel.add();
    b.frames[b.count++] = m;
}

unsigned Worker::forward_from_kernel(const Snapshot& s) {
    unsigned received = 0;
    rte_mbuf* frames[burst_size];
    for (std::size_t i = 0; i < s.interfaces.size(); ++i) {
        const std::uint16_t port = s.interfaces[i].kernel_port;
        if (port == no_port)
            continue;
        const std::uint16_t n =
            rte_eth_rx_burst(port, static_cast<std::uint16_t>(id_), frames, burst_size);
        received += n;
        counters_.from_kernel.add(n);
        for (std::uint16_t k = 0; k < n; ++k)
            enqueue(static_cast<std::uint8_t>(i), frames[k]);
    }
    return received;
}

void Worker::handle_arp(rte_mbuf* m, const ParsedFrame& f, std::uint8_t ingress,
                        std::uint32_t now) {
    auto* arp = reinterpret_cast<rte_arp_hdr*>(f.eth + 1);
    if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 ||
        arp->arp_plen != 4) {
        drop(m, DropReason::arp_ignored);
        return;
    }
    ctx_.neighbours->learn(arp->arp_data.arp_sip, ingress, arp->arp_data.arp_sha, now);
    const InterfaceEntry& iface = snapshot_->interfaces[ingress];
    const std::uint32_t target = arp->arp_data.arp_tip;
    if (arp->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REQUEST)) {
        const rte_ether_addr* mac = nullptr;
        if (target == iface.address) {
            mac = &iface.mac;
        } else if (const std::uint8_t vrrp = snapshot_->vrrp_instance_of(target);
                   vrrp != no_vrrp_instance) {
            // Only the master answers, from the instance's (virtual) MAC.
            if (!ctx_.owns(vrrp)) {
                drop(m, DropReason::not_master);
                return;
            }
            mac = &snapshot_->vrrp_instances[vrrp].mac;
        } else if (snapshot_->service_index.is_vip(target)) {
            mac = &iface.mac;
        }
        if (mac) {
            make_arp_reply(f.eth, arp, *mac);
            counters_.arp_replies.add();
            enqueue(ingress, m);
            return;
        }
    }
    if (arp->arp_opcode == rte_cpu_to_be_16(RTE_ARP_OP_REPLY)) {
        // An answer to our requests or to the kernel's: learnt above; the kernel learns too.
        if (target == iface.address && iface.kernel_port != no_port)
            to_kernel(ingress, m);
        else
            rte_pktmbuf_free(m);
        return;
    }
    drop(m, DropReason::arp_ignored);
}

void Worker::handle_icmp(rte_mbuf* m, const ParsedFrame& f, std::uint8_t ingress) {
    const InterfaceEntry& iface = snapshot_->interfaces[ingress];
    const std::uint32_t dst = f.ip->dst_addr;
    if (dst == iface.address && iface.kernel_port != no_port) {
        to_kernel(ingress, m); // the node's own ICMP: the kernel answers (and sees errors)
        return;
    }
    const rte_ether_addr* mac = &iface.mac;
    bool ours = dst == iface.address || snapshot_->service_index.is_vip(dst);
    if (const std::uint8_t vrrp = snapshot_->vrrp_instance_of(dst); vrrp != no_vrrp_instance) {
        if (!ctx_.owns(vrrp)) {
            drop(m, DropReason::not_master);
            return;
        }
        ours = true;
        mac = &snapshot_->vrrp_instances[vrrp].mac;
    }
    if (!ours || !is_icmp_echo_request(f.l4)) {
        drop(m, DropReason::icmp_ignored);
        return;
    }
    make_icmp_echo_reply(f.eth, f.ip, f.l4, *mac);
    counters_.icmp_echo_replies.add();
    enqueue(ingress, m);
}

void Worker::handle_ipv6(rte_mbuf* m, const ParsedFrame& f, std::uint8_t ingress) {
    const InterfaceEntry& iface = snapshot_->interfaces[ingress];
    if (iface.kernel_port != no_port && iface.is_for_node(f.ip6->dst_addr)) {
        to_kernel(ingress, m); // the node's own: ND, echo, its sockets
        return;
    }
    // Not served yet: IPv6 services arrive with docs/ipv6-plan.md's step 5.
    drop(m, DropReason::ipv6_not_enabled);
}

void Worker::to_control(rte_mbuf* m, std::uint8_t ingress) {
    // No instance configured (a reload may add some: the ring always exists).
    if (!ctx_.control_rx || snapshot_->vrrp_instances.empty()) {
        drop(m, DropReason::vrrp_not_configured);
        return;
    }
    m->port = ingress; // the interface index, for the control thread
    if (rte_ring_enqueue(ctx_.control_rx, m) != 0) {
        drop(m, DropReason::control_ring_full);
        return;
    }
    counters_.vrrp_to_control.add();
}

void Worker::drain_control_frames() {
    rte_mbuf* frames[burst_size];
    const unsigned n = rte_ring_dequeue_burst(ctx_.control_tx, reinterpret_cast<void**>(frames),
                                              burst_size, nullptr);
    for (unsigned i = 0; i < n; ++i)
        enqueue(static_cast<std::uint8_t>(frames[i]->port), frames[i]);
}

void Worker::idle(unsigned& idle_polls) {
    // Back off when there is nothing to do, so a small test box stays usable: spin briefly,
    // then pause, then sleep in short naps (a syscall, but only when idle).
    ++idle_polls;
    if (idle_polls < 64)
        return;
    if (idle_polls < 1024) {
        rte_pause();
        return;
    }
    rte_delay_us_sleep(idle_polls < 4096 ? 10 : 100);
}

int Worker::run() noexcept {
    rte_rcu_qsbr_thread_register(ctx_.rcu, id_);
    rte_rcu_qsbr_thread_online(ctx_.rcu, id_);
    rte_mbuf* frames[burst_size];
    unsigned idle_polls = 0;
    while (!ctx_.stop.load(std::memory_order_relaxed)) {
        // One snapshot for the whole iteration, read until the quiescent state below.
        const Snapshot* s = ctx_.snapshot.load(std::memory_order_acquire);
        use_snapshot(s);
        const std::uint32_t now = ctx_.clock.now_ms();
        unsigned received = 0;
        for (std::size_t i = 0; i < s->interfaces.size(); ++i) {
            const std::uint16_t n = rte_eth_rx_burst(
                s->interfaces[i].port_id, static_cast<std::uint16_t>(id_), frames, burst_size);
            if (n == 0)
                continue;
            received += n;
            process_burst(frames, n, static_cast<std::uint8_t>(i), now);
        }
        received += forward_from_kernel(*s);
        if (id_ == 0 && ctx_.control_tx)
            drain_control_frames();
        flush(*s);
        rte_rcu_qsbr_quiescent(ctx_.rcu, id_);
        if (received == 0) {
            counters_.idle_polls.add();
            if (ctx_.idle_backoff)
                idle(idle_polls);
        } else {
            counters_.busy_polls.add();
            idle_polls = 0;
        }
    }
    flush(*ctx_.snapshot.load(std::memory_order_acquire));
    rte_rcu_qsbr_thread_offline(ctx_.rcu, id_);
    rte_rcu_qsbr_thread_unregister(ctx_.rcu, id_);
    return 0;
}

} // namespace lb::dataplane
