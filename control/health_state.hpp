// A real server's health from consecutive check results: down after `fall` failures in a row,
// up again after `rise` successes in a row (keepalived's semantics). Servers start up.
#pragma once

#include <cstdint>
#include <string>

namespace lb::control {

class HealthState {
  public:
    HealthState(unsigned rise, unsigned fall) : rise_(rise), fall_(fall) {}

    // Records one result; true when it changed up/down.
    bool record(bool success) {
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
        if (up_ && ++failures_ >= fall_) {
            up_ = false;
            failures_ = 0;
            return true;
        }
        return false;
    }
    bool up() const { return up_; }
    std::uint64_t failures_total() const { return failures_total_; }

  private:
    unsigned rise_;
    unsigned fall_;
    unsigned successes_ = 0;
    unsigned failures_ = 0;
    std::uint64_t failures_total_ = 0;
    bool up_ = true;
};

} // namespace lb::control
