// This node's replication with every peer of `replication.peers` (issue 14: N active nodes behind
// ECMP, each sending what it forwards to all others): one PeerLink per peer, sharing the socket
// and the key, told apart by the sender's address. Pure logic on an explicit clock, like the
// link: the caller sends each datagram poll() returns to its peer and feeds receive() what
// arrives with the address it came from. It also decides, from every link's state, whether this
// node's table is complete: what VRRP's preemption hold and the reset-unknown-flows policy ask.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "modules/replication/peer_link.hpp"

namespace lb::control::sync {

// Where the node stands with its peers as a whole (docs/design.md, "Several peers").
struct SetState {
    // In sync: some peer's whole table has arrived and no reachable peer's is still arriving.
    // A peer never heard, or lost, does not count either way: a dead node must not keep the
    // others from preempting forever.
    bool in_sync = false;
    // The table is complete enough that a segment of no known flow is not ours: in sync, or the
    // last complete state of peers since lost. A peer lost while its table was still arriving
    // keeps this off (its flows may be the unknown ones) until it comes back.
    bool complete = false;
    // Why not in sync, naming each peer that is not ("" when in sync).
    std::string reason;
};

class PeerSet {
  public:
    // The hooks of peer number `index` (in `addresses` order): the caller may tell peers'
    // entries apart, e.g. to count them per peer.
    using HooksFor = std::function<PeerLink::Hooks(std::size_t index)>;

    // `local`: this node's replication address (host order), its identity in every datagram;
    // `addresses`: the peers'.
    PeerSet(LinkSettings settings, std::uint64_t epoch, const KeyRing& keys, const Digest& digest,
            std::uint32_t local, std::vector<std::uint32_t> addresses, const HooksFor& hooks);

    // A change of this node's table, for every peer, heard from or not. A peer not heard yet
    // gets a stream (a full dump, then the changes) once it appears; the link bounds what
    // waits until then: a queue that turns into a new stream when full.
    void queue(const Entry& entry);
    // A datagram from `from` (an IPv4 address, host order). False, counted and dropped, when
    // `from` is none of the peers.
    bool receive(std::uint32_t from, std::span<const std::uint8_t> datagram, std::uint64_t now_ms);

    struct Outgoing {
        std::size_t peer; // index into addresses()
        std::vector<std::uint8_t> datagram;
    };
    // What every link has to send now.
    std::vector<Outgoing> poll(std::uint64_t now_ms);

    // Re-evaluates every link's state (remembering which were in sync, for `complete`).
    SetState update(std::uint64_t now_ms);

    void set_digest(const Digest& digest);
    void set_keys(const KeyRing& keys);
    void set_entries_held(std::uint64_t entries);

    std::size_t size() const { return peers_.size(); }
    std::uint32_t address(std::size_t index) const { return peers_[index].address; }
    LinkStatus status(std::size_t index, std::uint64_t now_ms) const {
        return peers_[index].link->status(now_ms);
    }
    std::uint64_t unknown_senders() const { return unknown_senders_; }

  private:
    struct Peer {
        std::uint32_t address = 0;
        std::unique_ptr<PeerLink> link;
        bool was_in_sync = false; // its last state before it was lost was in sync
    };
    std::vector<Peer> peers_;
    std::uint64_t unknown_senders_ = 0;
};

} // namespace lb::control::sync
