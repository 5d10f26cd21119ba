// What the NAT FTP helper remembers about one control connection: how far the server's byte
// stream has been shifted by 227 rewrites, and where a line that continues from an earlier
// segment starts. It belongs to the control connection (Connection::ftp_state), so that
// replication can carry it with the connection.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <rte_spinlock.h>

#include "dataplane/index_pool.hpp"
#include "dataplane/tcp_seq_adjust.hpp"

namespace lb::dataplane {

enum FtpDirection : std::uint8_t { ftp_from_client = 0, ftp_from_server = 1 };

struct FtpState {
    // Both directions of one control connection may be handled by two workers at once; the
    // lock is per session and only control-connection packets (a few per transfer) take it.
    rte_spinlock_t lock = RTE_SPINLOCK_INITIALIZER;
    SeqAdjust server_stream; // the server → client byte stream, as rewritten
    // Sequence number at which the next segment continues a line (not at a line start).
    std::uint32_t continuation_seq[2] = {0, 0};
    bool continuation_valid[2] = {false, false};
    // A line of interest cut off at the end of a segment: where it starts (sender's numbering)
    // and how many times in a row it was held back.
    std::uint32_t held_seq[2] = {0, 0};
    bool held_valid[2] = {false, false};
    std::uint8_t held_count[2] = {0, 0};

    void reset() {
        server_stream = SeqAdjust{};
        continuation_valid[0] = continuation_valid[1] = false;
        held_valid[0] = held_valid[1] = false;
    }
};

class FtpStateTable {
  public:
    // audit: allow (constructed once at start-up, on the control side)
    FtpStateTable(std::uint32_t capacity, rte_rcu_qsbr* rcu, int socket,
                  // audit: allow (as above)
                  const std::string& name = "ftp_states")
        // audit: allow (as above)
        : states_(std::make_unique<FtpState[]>(capacity)), indices_(name, capacity, rcu, socket) {}

    std::optional<std::uint32_t> allocate() {
        auto i = indices_.allocate();
        if (i)
            states_[*i].reset();
        return i;
    }
    void retire(std::uint32_t index) { indices_.retire(index); }
    std::size_t reclaim() { return indices_.reclaim(); }
    FtpState& at(std::uint32_t index) { return states_[index]; }

  private:
    std::unique_ptr<FtpState[]> states_;
    IndexPool indices_;
};

} // namespace lb::dataplane
