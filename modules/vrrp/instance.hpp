// One VRRP instance's state machine (RFC 5798 section 6.4, with keepalived's preempt_delay and
// a FAULT state for tracking), driven by an explicit clock so that it can be tested on a
// virtual one: the owner feeds it events with the current time and carries out the actions it
// returns (send an advertisement, send gratuitous ARPs, take or release the VIPs), and asks it
// when its next timer is due.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lb::control::vrrp {

using Clock = std::chrono::steady_clock;
using Duration = std::chrono::microseconds;

enum class State : std::uint8_t { initialize, backup, master, fault };
const char* to_string(State s);

struct InstanceConfig {
    std::uint8_t vrid = 1;
    std::uint8_t priority = 100;         // 1..254; 255: address owner
    Duration advert_interval{1'000'000}; // v3: multiples of 10 ms; v2: whole seconds
    bool preempt = true;
    Duration preempt_delay{0};         // after start-up, no preemption for this long
    std::uint32_t primary_address = 0; // this node's address on the link (host order)
};

struct Advert {
    std::uint8_t priority = 0;
    Duration interval{1'000'000};
    std::uint32_t source = 0; // the sender's primary address (host order)
};

struct Actions {
    std::optional<std::uint8_t> send_advert; // with this priority (0 when giving up)
    bool send_gratuitous_arp = false;
    std::optional<State> became; // the transition that happened, if any
    std::string reason;          // why, for logs and `lbctl vrrp`
    // A synchronised instance whose master-down timer ran out: it stays BACKUP and asks its
    // sync group (modules/vrrp/router) to go MASTER; `reason` says why it would.
    bool wants_master = false;
};

class Instance {
  public:
    explicit Instance(InstanceConfig config);

    Actions start(Clock::time_point now);
    Actions shutdown(Clock::time_point now);
    // Timers that fell due at or before `now`.
    Actions tick(Clock::time_point now);
    Actions receive(const Advert& advert, Clock::time_point now);
    // Tracking: FAULT while `fault`; the effective priority otherwise (1..254; the owner's
    // 255 is never changed).
    Actions set_fault(bool fault, Clock::time_point now, const std::string& reason);
    Actions set_priority(std::uint8_t priority, Clock::time_point now);
    // A reload changed the settings: `priority` is the new effective one (configured, moved by
    // tracking). No transition, except a BACKUP that becomes the address owner (255) taking
    // over; a MASTER advertises a changed priority or interval at once, and the peers' election
    // (preemption) decides the rest as it would for tracking.
    Actions reconfigure(InstanceConfig config, std::uint8_t priority, Clock::time_point now);
    // Sync groups: moves to the state another member of the group just entered.
    Actions follow(State target, Clock::time_point now, const std::string& reason);

    // A member of a sync group never becomes MASTER on its own timer: it wants to, and the
    // group decides (keepalived's rule: MASTER only when every member would be).
    void set_synchronised(bool on) { synchronised_ = on; }
    bool wants_master() const { return wants_master_; }

    // The preemption hold (Router::hold_preemption): while held, a BACKUP treats a running
    // lower-priority master as it would without `preempt` (its advertisements restart the
    // master-down timer), so it becomes MASTER only when that master falls silent or resigns;
    // the address owner (255) too starts, and leaves FAULT, in BACKUP. A MASTER is unaffected.
    // Held while already preempting (its timer running out on a lower master's advertisements):
    // the timer restarts from that master's last advertisement. Released: the next
    // advertisement from a lower-priority master it was held back from makes it preempt at
    // once (a sync group member: wants MASTER). Idempotent.
    void hold_preemption(bool held);
    // Whether this node can hear advertisements now (its interface's link is up). A BACKUP counts
    // the master's silence only while it listens: the master-down timer stands still while it
    // does not, and runs a whole master-down interval from the moment it listens again, so that
    // start-up before the link came up (or a link that was down) is never taken for the master's
    // silence. On by default. Idempotent.
    void set_listening(bool on, Clock::time_point now);
    bool listening() const { return listening_; }

    // Held, BACKUP, and the master's last advertisement had a lower priority, which it would
    // preempt without the hold (preempt on, preempt_delay over, or the address owner).
    bool preemption_held_back() const {
        return preemption_held_ && state_ == State::backup && held_back_;
    }

    State state() const { return state_; }
    std::uint8_t priority() const { return priority_; }
    Duration master_down_interval() const;
    Duration skew_time() const;
    // When tick() next has something to do.
    std::optional<Clock::time_point> next_deadline() const;
    const InstanceConfig& config() const { return config_; }

  private:
    Actions become_master(Clock::time_point now, std::string reason);
    Actions become_backup(Clock::time_point now, std::string reason);
    // MASTER, or for a sync group member the wish to be (the group decides).
    Actions take_over(Clock::time_point now, std::string reason);
    // A BACKUP that will not preempt `ad`'s sender: its advertisements restart the timer.
    void accept_master(const Advert& ad, Clock::time_point now);

    InstanceConfig config_;
    std::uint8_t priority_;
    State state_ = State::initialize;
    Duration master_adver_interval_;
    std::optional<Clock::time_point> adver_timer_;
    std::optional<Clock::time_point> master_down_timer_;
    Clock::time_point started_{};
    bool synchronised_ = false;
    bool wants_master_ = false;
    // The master's last advertisement had priority 0 (it resigned), from this address: the
    // takeover that follows is a handover, not a master gone silent.
    std::optional<std::uint32_t> released_by_;
    bool preemption_held_ = false;
    // BACKUP, held: the master's last advertisement had a lower priority that it would preempt.
    // Kept when the hold is released, so that the next such advertisement preempts at once.
    bool held_back_ = false;
    // BACKUP, preempting: when it last discarded a lower-priority master's advertisement, and
    // that advertisement (the takeover's reason names the master it preempts).
    std::optional<Clock::time_point> lower_master_heard_;
    Advert lower_master_{};
    bool listening_ = true;
};

} // namespace lb::control::vrrp
