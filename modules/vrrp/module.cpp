#include "modules/vrrp/module.hpp"

#include "modules/vrrp/driver.hpp"

namespace lb::app {

namespace {

class VrrpModule final : public Module {
  public:
    explicit VrrpModule(ModuleContext& context)
        : control_(context.io, context.balancer,
                   [&health = context.health] { return health.down(); }) {}

    const char* name() const override { return "vrrp"; }
    void start() override { control_.start(); }
    void on_reload_applied(const control::config::ReloadReads&) override { control_.reconfigure(); }
    // Tracked services follow health; links have no event: looked at every tick.
    void on_health_change() override { control_.track(); }
    void tick() override { control_.track(); }
    void report() override { control_.report(); }
    void hold_preemption(const std::optional<std::string>& reason) override {
        control_.hold_preemption(reason);
    }
    // A master resigns (priority 0), so that its backup takes over at once.
    void shutdown(std::function<void()> done) override { control_.shutdown(std::move(done)); }

  private:
    VrrpControl control_;
};

} // namespace

bool vrrp_configured(const control::config::Config& config) {
    return !config.vrrp.empty();
}

std::unique_ptr<Module> make_vrrp_module(ModuleContext& context) {
    return std::make_unique<VrrpModule>(context);
}

} // namespace lb::app
