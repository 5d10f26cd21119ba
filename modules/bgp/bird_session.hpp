// The conversation with BIRD over its control socket, as decisions without I/O (issue 22: a
// driver's state machine checked on a fake clock). It keeps the link's state (idle, connecting,
// waiting for the greeting, ready), the command queue (one command in flight, the reload
// first, so that replies need no matching), what BIRD confirmed, BIRD's errors, the retry
// every second and the 15 s an answer may take. Time comes in as arguments; the socket is the
// driver's (modules/bgp/driver.cpp), reached through the callbacks in BirdIo.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/report/moment.hpp"
#include "modules/bgp/bird_reply.hpp"

namespace lb::control::bgp {

// What the session asks its driver to do. None is called back into the session synchronously:
// the driver answers later with connected(), connect_failed(), received() or lost().
struct BirdIo {
    std::function<void(const std::string& socket)> connect;
    std::function<void(const std::string& command)> send;
    std::function<void()> close;
    std::function<void(const std::string& line)> log; // for stderr, after "lb: bgp: "
};

class BirdSession {
  public:
    using Clock = std::chrono::steady_clock;
    using Moment = report::Moment;
    static constexpr std::chrono::seconds retry_period{1};
    static constexpr std::chrono::seconds answer_deadline{15};

    enum class Link { idle, connecting, greeting, ready };

    // Down since `now` until BIRD first greets lb.
    BirdSession(BirdIo io, std::string socket, std::string config, Moment now);

    // Connects unless a connection is already there or under way.
    void connect();
    void connected(Moment now);
    void connect_failed(const std::string& why, Moment now);
    // Bytes read from the socket: complete replies are taken off and acted on.
    void received(std::string_view bytes, Moment now);
    // The connection ended (read or write error, a reply that is not BIRD's, a changed socket):
    // closed, counted as a BIRD error if BIRD had answered, retried in a second.
    void lost(const std::string& why, Moment now);
    // The retry and the answer deadline, when next_deadline() has come.
    void tick(Moment now);
    std::optional<Clock::time_point> next_deadline() const;

    // The driver wrote the configuration announcing `vips`: BIRD is to load it.
    void file_written(std::vector<std::uint32_t> vips);
    // Counted and logged once per run of failures: the driver retries every second.
    void file_write_failed(const std::string& error);
    // The paths now in force (a reload may change them): a moved socket reconnects. Then sends
    // what is waiting.
    void update(const std::string& socket, const std::string& config, Moment now);
    // The periodic poll: `show protocols`, and `show bfd sessions` when a neighbour uses BFD.
    void poll(bool bfd, Moment now);

    Link link() const { return link_; }
    bool ready() const { return link_ == Link::ready; }
    // The last write failed: the driver writes again even if the text did not change.
    bool write_failed() const { return write_failed_; }
    // Whether BIRD confirmed the file written last, on the live connection.
    bool confirmed_latest() const { return ready() && confirmed_generation_ >= generation_; }
    // What lbctl bgp says of the link: "connected", "connecting" or "not reachable".
    std::string link_word() const;
    Moment since() const { return since_; }
    std::string down_reason() const; // empty while connected
    const std::string& error() const { return error_; }
    const std::string& version() const { return version_; }
    const std::vector<std::uint32_t>& confirmed() const { return confirmed_; }
    const std::vector<ProtocolRow>& protocols() const { return protocols_; }
    const std::vector<BfdRow>& bfd() const { return bfd_; }
    std::uint64_t reconfigurations() const { return reconfigurations_; }
    std::uint64_t errors() const { return errors_; }

  private:
    enum class Ask { configure, protocols, bfd };
    struct InFlight {
        Ask ask;
        std::uint64_t generation = 0;
        std::vector<std::uint32_t> vips; // configure: what that file announces
    };

    void on_reply(const BirdReply& reply, Moment now);
    void on_greeting(const BirdReply& reply, Moment now);
    void on_answer(const InFlight& asked, const BirdReply& reply);
    void send_next(Moment now);

    BirdIo io_;
    std::string socket_;       // the configured one
    std::string config_;       // the file BIRD is asked to load
    std::string connected_to_; // the socket connected to: a reload that changes it reconnects
    Link link_ = Link::idle;
    std::string received_;
    bool unreachable_logged_ = false;
    // When the link last came up (ready) or went down, and why it is down: lbctl bgp says
    // "down since ... (N s): why".
    Moment since_;
    std::string down_reason_;
    std::optional<Clock::time_point> retry_at_;
    std::optional<Clock::time_point> answer_by_; // a command BIRD does not answer ends the link
    std::optional<InFlight> in_flight_;
    bool want_configure_ = false;
    bool want_protocols_ = false;
    bool want_bfd_ = false;
    bool write_failed_ = false;

    std::vector<std::uint32_t> written_; // the VIPs the file written last announces
    std::uint64_t generation_ = 0;       // of that file
    std::uint64_t confirmed_generation_ = 0;
    std::vector<std::uint32_t> confirmed_; // the VIPs of the file BIRD last confirmed
    std::vector<ProtocolRow> protocols_;
    std::vector<BfdRow> bfd_;
    std::string error_;
    std::string version_;
    std::uint64_t reconfigurations_ = 0;
    std::uint64_t errors_ = 0;
};

} // namespace lb::control::bgp
