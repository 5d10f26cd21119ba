// Every feature module's lbctl commands, in lbctl's help order: one line per module that has
// any. Compiled into lb_admin_request, which lbctl links without the modules themselves: the
// commands are plain data in each module's commands.hpp.
#include "lb/admin_request.hpp"
#include "modules/bgp/commands.hpp"
#include "modules/replication/commands.hpp"
#include "modules/vrrp/commands.hpp"

namespace lb::app {

namespace {

template <std::size_t n>
void append(std::vector<ModuleCommand>& out, const ModuleCommand (&commands)[n]) {
    out.insert(out.end(), commands, commands + n);
}

} // namespace

const std::vector<ModuleCommand>& module_commands() {
    static const std::vector<ModuleCommand> all = [] {
        std::vector<ModuleCommand> out;
        append(out, vrrp_commands);
        append(out, replication_commands);
        append(out, bgp_commands);
        return out;
    }();
    return all;
}

} // namespace lb::app
