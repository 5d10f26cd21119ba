// What the feature modules publish for lbctl, the stats file and the metrics endpoint: each its
// own part of the statistics view, replaced whole at each publication. The Balancer keeps the
// dataplane; this board keeps the modules' reports, and no module needs a setter of its own on
// anything shared. The control thread publishes; lbctl answers and the metrics endpoint's
// thread read.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/report/stats_view.hpp"

namespace lb::control::report {

class ModuleReports {
  public:
    // Writes a module's part into a view (a copy of its last report, captured by value).
    using Part = std::function<void(StatsView&)>;

    // Replaces `module`'s part (one per module name).
    void publish(std::string_view module, Part part);
    // `module` has stopped (a reload removed its section): its part leaves the view.
    void withdraw(std::string_view module);
    // Every module's part written into `view`, in publication order.
    void fill(StatsView& view) const;
    // The modules' parts alone (lbctl's per-module answers): no counters read.
    StatsView parts() const;

  private:
    mutable std::mutex mutex_;
    std::vector<std::pair<std::string, Part>> parts_;
};

} // namespace lb::control::report
