// A real server's health from consecutive check results: down after `fall` failures in a row,
// up again after `rise` successes in a row.
//
// A server never checked yet (at start-up, or added by a reload) is up, and its first check
// runs at once (after `warmup`); if that first check fails, it is down at once instead of after
// `fall` failures. HAProxy's rule: keepalived's (up until `fall` failures) lets a dead new
// server take `fall` x `interval` of connections; starting down until `rise` successes would
// leave a freshly added service, or every service after a restart, with no server at all for
// `rise` x `interval`. Here a dead new server takes connections for one check's duration (at
// most `timeout`) and a healthy one never stops.
#pragma once

#include <cstdint>
#include <string>

namespace lb::control::health {

class HealthState {
  public:
    HealthState(unsigned rise, unsigned fall) : rise_(rise), fall_(fall) {}

    // Records one result; true when it changed up/down.
    bool record(bool success) {
        const bool first = !checked_;
        checked_ = true;
        if (success) {
            failures_ = 0;
            if (!up_ && ++successes_ >= rise_) {
                up_ = true;
                successes_ = 0;
                return true;
            }
            return false;
        }
        successes_ = 0;
        ++failures_total_;
        if (up_ && (++failures_ >= fall_ || first)) {
            up_ = false;
            failures_ = 0;
            return true;
        }
        return false;
    }
    bool up() const { return up_; }
    bool checked() const { return checked_; } // a first check has completed
    std::uint64_t failures_total() const { return failures_total_; }

  private:
    unsigned rise_;
    unsigned fall_;
    unsigned successes_ = 0;
    unsigned failures_ = 0;
    std::uint64_t failures_total_ = 0;
    bool up_ = true;
    bool checked_ = false;
};

} // namespace lb::control::health
