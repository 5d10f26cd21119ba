// Reloads on request (SIGHUP, `lbctl reload`) without stalling the control loop: the file is
// read, parsed and validated on a thread of its own (control/config/reload_plan), and only the
// result is applied on the loop, where everything that touches running state happens. A file of a
// few MB takes a second or two to parse; VRRP adverts and health checks must not wait for it.
//
// A request while a reload is in flight is queued, not refused: one more reload starts when the
// current one is applied, and every request queued meanwhile gets its answer (the file may have
// changed after the running read began, so that read cannot answer them).
#pragma once

#include <functional>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "lb/balancer.hpp"

namespace lb::app {

class ConfigReloader {
  public:
    using Done = std::function<void(const ChangeOutcome&)>;
    using Applied = std::function<void(const control::config::ReloadReads&)>;

    // `applied` runs on the loop after every reload that changed the configuration, before the
    // requests' answers (e.g. to reconfigure health checks and the modules), with what the
    // reload read besides the file (control/config/reload_plan.hpp: the replication keys).
    ConfigReloader(boost::asio::io_context& io, Balancer& balancer, Applied applied);
    ~ConfigReloader(); // waits for a reload thread still reading
    ConfigReloader(const ConfigReloader&) = delete;
    ConfigReloader& operator=(const ConfigReloader&) = delete;

    // On the loop. `done` is called on the loop with the outcome of a reload that began after
    // this request.
    void request(Done done);

  private:
    void start();
    void finish(control::config::ReloadPlan plan);

    boost::asio::io_context& io_;
    Balancer& balancer_;
    Applied applied_;
    std::thread reader_;
    std::vector<Done> running_; // answered by the reload in flight
    std::vector<Done> queued_;  // answered by the next one
};

} // namespace lb::app
