#include "lb/config_reloader.hpp"

#include <exception>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

namespace lb::app {

ConfigReloader::ConfigReloader(boost::asio::io_context& io, Balancer& balancer,
                               std::function<void()> applied, KeysRead keys_read)
    : io_(io), balancer_(balancer), applied_(std::move(applied)), keys_read_(std::move(keys_read)) {
}

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
    // The Balancer has no use for the keys: they go to keys_read_ once the rest is applied.
    const bool replicates = plan.replication_keys.has_value();
    control::config::ReplicationKeys keys;
    if (replicates)
        keys = std::move(*plan.replication_keys);
    const ChangeOutcome outcome = balancer_.apply_reload(std::move(plan));
    if (outcome.applied && applied_)
        applied_();
    if (outcome.applied && replicates && keys_read_)
        keys_read_(std::move(keys));
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
