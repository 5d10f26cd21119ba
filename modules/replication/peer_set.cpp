#include "modules/replication/peer_set.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "control/config/value_parsers.hpp"

namespace lb::control::sync {

PeerSet::PeerSet(LinkSettings settings, std::uint64_t epoch, const KeyRing& keys,
                 const Digest& digest, std::uint32_t local, std::vector<std::uint32_t> addresses,
                 const HooksFor& hooks) {
    peers_.reserve(addresses.size());
    for (std::size_t i = 0; i < addresses.size(); ++i) {
        Peer p;
        p.address = addresses[i];
        // One epoch for every link: it is this run of the node, whoever listens. The links
        // tell their datagrams apart by the identities inside the MAC.
        p.link = std::make_unique<PeerLink>(settings, epoch, node_id_v4(local),
                                            node_id_v4(addresses[i]), keys, digest, hooks(i));
        peers_.push_back(std::move(p));
    }
}

void PeerSet::queue(const Entry& entry) {
    for (auto& p : peers_)
        p.link->queue(entry);
}

bool PeerSet::receive(std::uint32_t from, std::span<const std::uint8_t> datagram,
                      std::uint64_t now_ms) {
    const auto it = std::find_if(peers_.begin(), peers_.end(),
                                 [from](const Peer& p) { return p.address == from; });
    if (it == peers_.end()) {
        // Not even decoded: a node outside the list has no business here, key or not.
        ++unknown_senders_;
        return false;
    }
    it->link->receive(datagram, now_ms);
    return true;
}

std::vector<PeerSet::Outgoing> PeerSet::poll(std::uint64_t now_ms) {
    std::vector<Outgoing> out;
    for (std::size_t i = 0; i < peers_.size(); ++i)
        for (auto& d : peers_[i].link->poll(now_ms))
            out.push_back({i, std::move(d)});
    return out;
}

SetState PeerSet::update(std::uint64_t now_ms) {
    SetState s;
    bool some_in_sync = false;
    bool some_complete = false;
    bool arriving = false;   // a reachable peer's table is still arriving
    bool incomplete = false; // a peer was lost before its table had arrived
    std::vector<std::string> waiting;
    for (auto& p : peers_) {
        const LinkState state = p.link->status(now_ms).state;
        switch (state) {
        case LinkState::in_sync:
            p.was_in_sync = true;
            some_in_sync = some_complete = true;
            break;
        case LinkState::receiving_bulk:
            p.was_in_sync = false;
            arriving = true;
            break;
        case LinkState::connecting:
            p.was_in_sync = false;
            break;
        case LinkState::peer_lost:
            (p.was_in_sync ? some_complete : incomplete) = true;
            break;
        }
        if (state != LinkState::in_sync)
            waiting.push_back(
                fmt::format("{} {}", config::format_ipv4(p.address), link_state_name(state)));
    }
    s.in_sync = some_in_sync && !arriving;
    s.complete = some_complete && !arriving && !incomplete;
    if (!s.in_sync) {
        // A pair's words as they were ("... with the peer: connecting"); with several peers,
        // each one that is not in sync by name.
        if (peers_.size() == 1)
            s.reason = link_state_name(peers_[0].link->status(now_ms).state);
        else
            for (const auto& w : waiting)
                s.reason += (s.reason.empty() ? "" : ", ") + w;
    }
    return s;
}

void PeerSet::set_digest(const Digest& digest) {
    for (auto& p : peers_)
        p.link->set_digest(digest);
}

void PeerSet::set_keys(const KeyRing& keys) {
    for (auto& p : peers_)
        p.link->set_keys(keys);
}

void PeerSet::set_entries_held(std::uint64_t entries) {
    for (auto& p : peers_)
        p.link->entries_held_hint = entries;
}

} // namespace lb::control::sync
