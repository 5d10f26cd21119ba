// VRRP tracking: what each instance's `track` list says right now. A tracked service fails when
// fewer of its real servers are up (healthy, weight above 0) than its quorum; an interface when
// its link is down; a script when its command fails `fall` times in a row (it recovers after
// `rise` successes). A failing object with weight 0 puts the instance in FAULT; a negative
// weight lowers the priority while the object fails, a positive one raises it while it is up
// (keepalived's semantics).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "control/config/model.hpp"
#include "modules/health/monitor.hpp"
#include "modules/health/state.hpp"

namespace lb::control::vrrp {

struct TrackingVerdict {
    bool fault = false;
    int delta = 0;
    std::string reason; // what fails, empty when nothing does
};

// Whether an interface (by configured name) has link.
using LinkUp = std::function<bool(const std::string&)>;

// The verdict for one instance, from the running configuration, the servers that health checks
// hold down, links and scripts.
TrackingVerdict evaluate_tracking(const config::VrrpInstance& instance,
                                  const config::Config& running, const health::DownSet& down,
                                  const LinkUp& link_up,
                                  const std::function<bool(const std::string&)>& script_up);

// Runs the tracking scripts of vrrp.scripts on the io_context.
class TrackingScripts {
  public:
    TrackingScripts(boost::asio::io_context& io, const config::Config& config,
                    std::function<void()> on_change);
    ~TrackingScripts();
    // A reload: scripts whose settings are unchanged keep running with their state; changed
    // and new ones start over (first run at once), removed ones stop.
    void reconfigure(const config::Config& config);
    bool up(const std::string& name) const;

  private:
    struct Script;
    void schedule(const std::shared_ptr<Script>& s, std::chrono::milliseconds delay);
    void add(const config::VrrpScript& s);
    static void stop(Script& s);

    boost::asio::io_context& io_;
    std::function<void()> on_change_;
    std::map<std::string, std::shared_ptr<Script>> scripts_;
};

} // namespace lb::control::vrrp
