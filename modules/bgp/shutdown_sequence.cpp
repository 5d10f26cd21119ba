#include "modules/bgp/shutdown_sequence.hpp"

#include <fmt/format.h>

#include "control/config/value_parsers.hpp"

namespace lb::control::bgp {

namespace {

long long ms(ShutdownSequence::Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

} // namespace

ShutdownSequence::Bird ShutdownSequence::of(const BirdSession& session) {
    if (session.confirmed_latest())
        return Bird::confirmed;
    const auto link = session.link();
    if (link == BirdSession::Link::idle || link == BirdSession::Link::connecting)
        return Bird::absent;
    return Bird::pending;
}

bool ShutdownSequence::step(Clock::time_point now, std::chrono::milliseconds drain_timeout,
                            Bird bird, const std::function<std::size_t()>& connections,
                            const std::function<void(const std::string&)>& log) {
    const auto elapsed = now - start_;
    const bool timed_out = elapsed >= drain_timeout;
    if (!withdrawn_at_) {
        if (bird == Bird::confirmed) {
            log(fmt::format("BIRD confirmed the withdrawal after {} ms", ms(elapsed)));
            withdrawn_at_ = now;
        } else if (bird == Bird::absent) {
            // No BIRD to tell: its sessions end with lb's tap, which the router notices (BFD,
            // or the hold time).
            log("BIRD not connected: its sessions fail when lb's interfaces go");
            withdrawn_at_ = now - settle;
        } else if (timed_out) {
            log(fmt::format("BIRD did not confirm the withdrawal within {}",
                            config::format_duration(drain_timeout)));
            withdrawn_at_ = now - settle;
        }
    }
    if (!withdrawn_at_ || now - *withdrawn_at_ < settle)
        return false;
    const std::size_t active = connections();
    if (active != 0 && !timed_out)
        return false;
    log(fmt::format("drained after {} ms ({} connection(s) left)", ms(elapsed), active));
    return true;
}

} // namespace lb::control::bgp
