#include "modules/health/module.hpp"

namespace lb::app {

namespace {

class HealthModule final : public Module {
  public:
    explicit HealthModule(ModuleContext& context)
        : health_(context.health), balancer_(context.balancer) {}

    const char* name() const override { return "health"; }
    void start() override { report(); }
    void on_health_change() override { report(); }
    // Every check's status and counts, which lbctl real-servers and the metrics show.
    void report() override {
        balancer_.reports().publish("health",
                                    [statuses = health_.statuses()](control::report::StatsView& v) {
                                        v.health = statuses;
                                    });
    }

  private:
    const control::health::HealthMonitor& health_;
    Balancer& balancer_;
};

} // namespace

bool health_configured(const control::config::Config&) {
    return true;
}

std::unique_ptr<Module> make_health_module(ModuleContext& context) {
    return std::make_unique<HealthModule>(context);
}

} // namespace lb::app
