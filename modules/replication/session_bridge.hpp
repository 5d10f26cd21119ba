// Between the replication protocol's entries (modules/replication/wire_format.hpp: identities,
// remaining timeouts) and this node's live tables (local indices, absolute times): it describes a
// table entry for the peer, finds the current state of an entry for a resend, walks the tables for
// a full dump, and installs what the peer sends straight into the live tables, so that a takeover
// needs no commit step. Entries name services and real servers by identity; one that does not
// bind to this node's configuration is counted (unbound) and left out. Control thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "dataplane/dataplane_context.hpp"
#include "modules/replication/bridge_counters.hpp"
#include "modules/replication/wire_format.hpp"

namespace lb::control::replication {

using sync::Entry;

class SessionBridge {
  public:
    explicit SessionBridge(dataplane::DataplaneContext& context)
        : ctx_(context), peer_expiry_(context.connections->capacity(), 0),
          peer_template_expiry_(context.templates->capacity(), 0),
          first_copy_pending_(context.connections->capacity(), false) {}

    // Binds identities to the numbers of the snapshot now published: call after each publish.
    void bind(const dataplane::Snapshot& snapshot);

    // The peer's view of one entry of ours (nullopt: not live, or not replicated: a TCP
    // handshake still in progress, a service this snapshot no longer has).
    std::optional<sync::ConnectionEntry> connection_entry(std::uint32_t index,
                                                          std::uint32_t now) const;
    std::optional<sync::TemplateEntry> template_entry(std::uint32_t index, std::uint32_t now) const;
    // The FTP helper's state of control connection `index`, when it has any worth sending.
    std::optional<sync::FtpStateEntry> ftp_entry(std::uint32_t index) const;
    // A worker's event (dataplane/sync_events.hpp) as entries to send; remembers what the peer
    // will hold.
    void describe_event(std::uint32_t event, std::uint32_t now, std::vector<Entry>& out);
    // replication.sync_after: connection `index` is held back until it is old enough; until then
    // the sweep leaves it alone. settle() then sends it, unless it is already closing (a
    // short-lived flow: never sent at all).
    void defer(std::uint32_t index);
    void settle(std::uint32_t index, std::uint32_t now, std::vector<Entry>& out);
    // The refresh: from the sweep's cursor, `budget` connections and as many templates; queues
    // those the peer has never been sent (an event lost to a full ring) and those whose copy
    // there would expire before ours, while it is past half its life (a template is refreshed
    // by every new connection under it, which sends no event of its own).
    void sweep(std::uint32_t budget, std::uint32_t now, std::vector<Entry>& out);
    // The collector removed connection `index`: its deletion, if the peer holds a copy, with how
    // long before `now` it was last seen.
    std::optional<sync::DeletionEntry> expired(std::uint32_t index, const dataplane::Connection& c,
                                               std::uint32_t now);

    // The PeerLink hooks.
    std::optional<Entry> current(const Entry& entry, std::uint32_t now) const;
    // Remembers what it sends as held by the peer, as an event does: the sweep does not send it
    // again as never sent, and its expiry is told to the peer.
    bool dump(std::uint64_t& cursor, std::vector<Entry>& out, std::uint32_t now);
    void apply(const Entry& entry, std::uint32_t now);

    const BridgeCounters& counters() const { return counters_; }

  private:
    struct ServiceKey {
        std::uint32_t vip;
        std::uint8_t protocol;
        bool group;
        std::uint16_t port;
        bool operator==(const ServiceKey&) const = default;
    };
    struct ServiceKeyHash {
        std::size_t operator()(const ServiceKey& k) const {
            return (std::size_t{k.vip} << 20) ^ (std::size_t{k.port} << 2) ^ k.protocol ^
                   (k.group ? 0x80000 : 0);
        }
    };

    std::optional<sync::ServiceIdentity> service_identity(std::uint16_t service) const;
    std::optional<std::uint16_t> bind_service(const sync::ServiceIdentity& id) const;
    std::optional<std::uint16_t> bind_real_server(std::uint16_t service,
                                                  const sync::Endpoint& rs) const;
    std::uint32_t full_timeout(dataplane::TcpState state, bool expectation) const;

    void apply_connection(const sync::ConnectionEntry& e, std::uint32_t now);
    void apply_template(const sync::TemplateEntry& e, std::uint32_t now);
    void apply_ftp_state(const sync::FtpStateEntry& e);
    void apply_deletion(const sync::DeletionEntry& e, std::uint32_t now);
    void sweep_connections(std::uint32_t budget, std::uint32_t now, std::vector<Entry>& out);
    void sweep_templates(std::uint32_t budget, std::uint32_t now, std::vector<Entry>& out);
    void queue_template(std::uint32_t index, std::uint32_t now, std::vector<Entry>& out);
    // Removes a connection with everything attached to it (load, template, FTP state), as
    // the collector does on expiry.
    void retire_connection(std::uint32_t index);

    // A connection and, if it has one, its FTP state, for an event, the sweep or a dump; remembers
    // what the peer will hold.
    void queue_connection(std::uint32_t index, std::uint32_t now, std::vector<Entry>& out);
    void note_peer_copy(std::uint32_t index, std::uint32_t expiry) {
        peer_expiry_[index] = expiry | 1; // 0: the peer holds nothing of it
    }

    dataplane::DataplaneContext& ctx_;
    const dataplane::Snapshot* snapshot_ = nullptr;
    // Per connection entry: when the peer's copy expires (our clock), 0 when it has none.
    std::vector<std::uint32_t> peer_expiry_;
    std::vector<std::uint32_t> peer_template_expiry_; // the same, per persistence template
    std::uint32_t sweep_cursor_ = 0;
    std::uint32_t template_sweep_cursor_ = 0;
    // Deferred (sync_after) before the peer ever had a copy: settle() may drop it if it is
    // closing by then.
    std::vector<bool> first_copy_pending_;
    std::unordered_map<ServiceKey, std::uint16_t, ServiceKeyHash> services_;
    BridgeCounters counters_;
};

} // namespace lb::control::replication
