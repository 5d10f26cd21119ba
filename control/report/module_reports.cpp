#include "control/report/module_reports.hpp"

#include <algorithm>

namespace lb::control::report {

void ModuleReports::publish(std::string_view module, Part part) {
    std::lock_guard lock(mutex_);
    const auto it = std::find_if(parts_.begin(), parts_.end(),
                                 [&](const auto& p) { return p.first == module; });
    if (it != parts_.end())
        it->second = std::move(part);
    else
        parts_.emplace_back(std::string(module), std::move(part));
}

void ModuleReports::withdraw(std::string_view module) {
    std::lock_guard lock(mutex_);
    std::erase_if(parts_, [&](const auto& p) { return p.first == module; });
}

void ModuleReports::fill(StatsView& view) const {
    std::lock_guard lock(mutex_);
    for (const auto& [module, part] : parts_)
        part(view);
}

StatsView ModuleReports::parts() const {
    StatsView view;
    fill(view);
    return view;
}

} // namespace lb::control::report
