#include "modules/bgp/module.hpp"

#include <fmt/format.h>

#include "control/json_text.hpp"
#include "modules/bgp/driver.hpp"

namespace lb::app {

namespace {

class BgpModule final : public Module {
  public:
    explicit BgpModule(ModuleContext& context)
        : control_(context.io, context.balancer, [&health = context.health] {
              return BgpControl::HealthNow{health.down(), health.statuses()};
          }) {}

    const char* name() const override { return "bgp"; }
    void start() override { control_.start(); }
    // A reload may change what is announced (a removed section withdraws every VIP:
    // BgpControl::update); health and weights may cross a quorum.
    void on_reload_applied(const control::config::ReloadReads&) override { control_.update(); }
    void on_health_change() override { control_.update(); }
    std::optional<control::AdminAnswer> answer(const AdminRequest& request) override {
        if (!request.is_module_command("drain-node"))
            return {};
        return drain_node(request);
    }
    // Withdraws first and serves established flows until they end (drain_timeout).
    void shutdown(std::function<void()> done) override { control_.shutdown(std::move(done)); }

  private:
    // lbctl drain-node [--undo]: withdraw (or announce again) every VIP.
    control::AdminAnswer drain_node(const AdminRequest& request) {
        const bool undo = !request.args.empty();
        const auto [said, not_kept] = control_.set_drained(!undo);
        fmt::print(stderr, "lb: lbctl {}: {}", request.line(), said);
        if (request.json)
            return {true, control::json_text(
                              {{"drained", !undo},
                               {"message", said},
                               {"kept_across_restart", not_kept.empty()},
                               {"not_kept_because", not_kept.empty() ? control::Json(nullptr)
                                                                     : control::Json(not_kept)}})};
        return {true, said};
    }

    BgpControl control_;
};

} // namespace

bool bgp_configured(const control::config::Config& config) {
    return config.bgp.has_value();
}

std::unique_ptr<Module> make_bgp_module(ModuleContext& context) {
    return std::make_unique<BgpModule>(context);
}

} // namespace lb::app
