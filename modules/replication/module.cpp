#include "modules/replication/module.hpp"

#include <fmt/format.h>

#include "modules/replication/driver.hpp"

namespace lb::app {

namespace {

class ReplicationModule final : public Module {
  public:
    explicit ReplicationModule(ModuleContext& context)
        : collector_(context.collector),
          control_(context.io, context.balancer, context.hold_preemption) {
        // The table sweep's expiries are deletions the peers must hear of.
        collector_.on_expired = [this](std::uint32_t index, const dataplane::Connection& c) {
            control_.expired(index, c);
        };
    }
    ~ReplicationModule() override { collector_.on_expired = nullptr; }

    const char* name() const override { return "replication"; }
    void start() override { control_.start(); }
    void report() override { control_.report(); }
    // Every applied reload of a replicating configuration has read both key files again (a key
    // may be replaced under the same path) and found them usable; a file with an unusable key
    // is refused before this, so the running keys stay.
    void on_reload_applied(const control::config::ReloadReads& reads) override {
        if (!reads.replication_keys)
            return;
        const auto& keys = *reads.replication_keys;
        const bool two = !keys.previous.empty();
        control_.set_keys(keys.current, keys.previous);
        fmt::print(stderr, "lb: replication: keys reloaded ({})\n",
                   two ? "key_file's to send, both accepted" : "one key");
    }

  private:
    control::report::TableCollector& collector_;
    ReplicationControl control_;
};

} // namespace

bool replication_configured(const control::config::Config& config) {
    return config.replication.has_value();
}

std::unique_ptr<Module> make_replication_module(ModuleContext& context) {
    return std::make_unique<ReplicationModule>(context);
}

} // namespace lb::app
