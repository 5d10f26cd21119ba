#include "lb/config_reloader.hpp"

#include <exception>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

namespace lb::app {

ConfigReloader::ConfigReloader(boost::asio::io_context& io, Balancer& balancer, Applied applied)
    : io_(io), balancer_(balancer), applied_(std::move(applied)) {}

ConfigReloader::~ConfigReloader() {
    if (reader_.joinable())
        reader_.join();
}

void ConfigReloader::request(Done done) {
    if (!running_.empty()) {
        queued_.push_back(std::move(done));
        return;
    }
    running_.push_back(std::move(done));
    start();
}

void ConfigReloader::start() {
    if (reader_.joinable())
        reader_.join(); // the previous reader has posted its plan and is ending
    // The thread gets copies: it must not look at the Balancer, which the loop keeps changing.
    reader_ = std::thread([this, path = balancer_.config_path(), running = balancer_.config()] {
        control::config::ReloadPlan plan;
        try {
            plan = control::config::plan_reload(path, running);
        } catch (const std::exception& e) { // e.g. out of memory: the loop must still hear of it
            plan = {};
            plan.messages = {fmt::format("reload failed: {}", e.what()),
                             "the running configuration is unchanged"};
        }
        boost::asio::post(io_,
                          [this, plan = std::move(plan)]() mutable { finish(std::move(plan)); });
    });
}

void ConfigReloader::finish(control::config::ReloadPlan plan) {
    // The Balancer has no use for what the reload read besides the file: it goes to the
    // modules once the rest is applied.
    const control::config::ReloadReads reads = std::move(plan.reads);
    const ChangeOutcome outcome = balancer_.apply_reload(std::move(plan));
    if (outcome.applied && applied_)
        applied_(reads);
    auto answered = std::move(running_);
    running_.clear();
    if (!queued_.empty()) {
        running_ = std::move(queued_);
        queued_.clear();
        start();
    }
    for (auto& done : answered)
        done(outcome);
}

} // namespace lb::app
