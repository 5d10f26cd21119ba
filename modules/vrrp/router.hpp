// Runs every configured VRRP instance of this node: feeds received advertisements to their
// state machines, sends advertisements and gratuitous ARPs, applies tracking, keeps sync groups
// together, and reports each transition to its owner (which moves the VIPs in the dataplane and
// runs the notifications). It does no I/O itself: frames go out through `SendFrame` and come in
// through receive(), all on one thread with an explicit clock, so two routers can be wired
// together in a unit test.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "control/config/model.hpp"
#include "modules/vrrp/frames.hpp"
#include "modules/vrrp/instance.hpp"

namespace lb::control::vrrp {

constexpr std::size_t discard_reasons = static_cast<std::size_t>(Discard::not_a_peer) + 1;

struct InstanceStatus {
    std::string name;
    std::string interface;
    std::uint8_t vrid = 0;
    unsigned version = 3;
    std::uint8_t configured_priority = 0;
    std::uint8_t priority = 0; // effective, after tracking
    State state = State::initialize;
    std::uint32_t master = 0; // the current master's address (ours while master); 0: unknown
    std::chrono::system_clock::time_point last_transition{}; // {}: none yet
    Clock::time_point last_transition_monotonic{};           // the same moment, monotonic
    std::string reason;                                      // of the last transition
    std::string tracking; // what tracking reports now, empty when all is well
    // Non-empty while its sync group holds it in BACKUP although its own master is gone (a
    // partial partition): which members still hear a master, or are in FAULT.
    std::string sync_held;
    // Non-empty while the preemption hold (Router::hold_preemption) keeps it in BACKUP under a
    // running master with a lower priority that it would otherwise preempt: the hold's reason.
    std::string preemption_held;
    // False while its interface's link is down: as BACKUP it does not count that time as the
    // master's silence (Router::set_listening).
    bool listening = true;
    std::uint64_t transitions = 0;
    std::uint64_t adverts_sent = 0;
    std::uint64_t adverts_received = 0;
    std::uint64_t gratuitous_arps_sent = 0;
};

struct Transition {
    std::size_t instance = 0;
    std::uint8_t slot = 0; // the instance's dataplane ownership slot (Router's `slots`)
    // The instance's settings as the router runs them, valid during the callback: an instance a
    // reload removes is no longer in the running configuration when it stops.
    const config::VrrpInstance* settings = nullptr;
    State from = State::initialize;
    State to = State::initialize;
    std::uint8_t priority = 0;
    std::string reason;
};

class Router {
  public:
    using SendFrame = std::function<void(std::uint8_t interface, std::vector<std::uint8_t>)>;
    // The MAC of a unicast peer, if known (the neighbour table); broadcast otherwise.
    using ResolveMac = std::function<std::optional<Mac>(std::uint32_t, std::uint8_t interface)>;
    using OnTransition = std::function<void(const Transition&)>;

    // `port_macs`: each configured interface's own MAC, in configuration order. `slots`: each
    // instance's dataplane ownership slot, in configuration order (empty: 0, 1, 2...).
    Router(const config::Config& config, std::vector<Mac> port_macs, SendFrame send,
           ResolveMac resolve, OnTransition on_transition, std::vector<std::uint8_t> slots = {});

    void start(Clock::time_point now);
    // Priority-0 advertisements from every master, so that the backups take over at once.
    void shutdown(Clock::time_point now);
    // A frame of IP protocol 112 received on interface index `interface`.
    void receive(std::uint8_t interface, const std::uint8_t* frame, std::size_t length,
                 Clock::time_point now);
    // Timers due at or before `now`: advertisements, master-down, gratuitous ARPs.
    void tick(Clock::time_point now);
    // Tracking's verdict for one instance: FAULT, or the priority moved by `delta`.
    void set_tracking(std::size_t instance, bool fault, int delta, const std::string& reason,
                      Clock::time_point now);
    // The preemption hold, for every instance (those a reload adds too): with a reason (for
    // `lbctl vrrp`), no instance preempts a running master of lower priority, the address owner
    // included; a master that falls silent or resigns is still taken over (no service is worse
    // than what the hold protects), and a MASTER stays MASTER. nullopt releases it: an instance
    // held back from a lower master preempts at that master's next advertisement. Session
    // replication holds it while the session table is not in sync with the peer's. Cheap and
    // idempotent; call it before start() for start-up to be held (or within the master-down
    // interval after it). Details: Instance::hold_preemption.
    void hold_preemption(std::optional<std::string> reason);
    const std::optional<std::string>& preemption_hold() const { return hold_; }
    // Whether interface index `interface` can receive advertisements now (its link is up): a
    // BACKUP there counts the master's silence only from the moment it can hear it
    // (Instance::set_listening), so a node whose link comes up after start-up does not take
    // over from a master it never had the chance to hear. Every interface listens until told
    // otherwise; instances a reload adds follow their interface. Call it before start() for
    // start-up.
    void set_listening(std::uint8_t interface, bool on, Clock::time_point now);

    // A reload: runs `next`'s instances from now on, in its order, with `slots` as the
    // constructor's. An instance is the same one while its name, interface and virtual router id
    // are: if its settings are equal it is left alone (state, timers, counters); if not, they are
    // applied without a transition where the protocol allows (a MASTER whose priority changes
    // stays MASTER and advertises the new one; a BACKUP lets the election decide). Instances
    // that are gone stop as at shutdown (priority-0 advertisement, STOP); new ones start.
    // Interfaces need a restart, so `next`'s are the running ones.
    void reconfigure(const config::Config& next, std::vector<std::uint8_t> slots,
                     Clock::time_point now);

    std::optional<Clock::time_point> next_deadline() const;
    const std::vector<InstanceStatus>& status() const { return status_; }
    // Discarded advertisements, by Discard reason.
    const std::array<std::uint64_t, discard_reasons>& discarded() const { return discarded_; }

  private:
    std::size_t find(const std::string& name) const; // instances_.size() when unknown

    struct Running {
        config::VrrpInstance config;
        std::uint8_t slot = 0;
        Instance machine;
        Expectation expectation;
        std::uint8_t interface = 0;
        std::uint32_t source = 0; // our address on the link: advertisements' source
        Mac mac{};                // the virtual MAC, or the port's with use_vmac: false
        int group = -1;           // sync group
        std::string wish;         // why it wants MASTER (Actions::reason), while it does
        bool tracking_fault = false;
        int tracking_delta = 0; // the last set_tracking's, applied to a reloaded priority
        std::vector<Clock::time_point> garp_batches; // pending, earliest first
        std::optional<Clock::time_point> next_refresh;
    };

    Running make_running(const config::Config& config, const config::VrrpInstance& v,
                         std::uint8_t slot) const;
    static InstanceStatus make_status(const config::VrrpInstance& v);
    // Its advertisements' and gratuitous ARPs' source: virtual, or the port's with use_vmac off.
    Mac mac_of(const config::VrrpInstance& v, std::uint8_t interface) const;
    void build_groups(const config::Config& config);
    // Applies changed settings to a running instance (reconfigure()).
    void update(std::size_t i, const config::VrrpInstance& v, Clock::time_point now);
    void apply(std::size_t i, Actions a, Clock::time_point now, bool propagate);
    // A member wants MASTER: the group goes when every member would, else it stays put.
    void try_group_master(std::size_t group, Clock::time_point now);
    // What holds each instance in BACKUP: its sync group (InstanceStatus::sync_held, a member
    // that wants MASTER) or the preemption hold (InstanceStatus::preemption_held).
    void refresh_held();
    void send_advert(std::size_t i, std::uint8_t priority);
    void send_gratuitous_arps(std::size_t i, unsigned repeat);
    void count(Discard d) { ++discarded_[static_cast<std::size_t>(d)]; }

    std::vector<Running> instances_;
    std::vector<InstanceStatus> status_;
    std::vector<std::vector<std::size_t>> groups_;
    std::vector<std::string> group_names_;
    std::vector<std::uint32_t> interface_addresses_;
    std::vector<bool> listening_; // per interface
    std::vector<Mac> port_macs_;
    std::array<std::uint64_t, discard_reasons> discarded_{};
    std::optional<std::string> hold_; // the preemption hold's reason, while held
    SendFrame send_;
    ResolveMac resolve_;
    OnTransition on_transition_;
};

} // namespace lb::control::vrrp
