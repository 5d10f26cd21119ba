// lb with one test hook (test/e2e/test_appliance.py, the watchdog): with
// LB_TEST_STALL_CONTROL_LOOP_WHILE=PATH in the environment, the control loop blocks at the end
// of every tick while PATH exists, as a control thread stuck in a system call would, while the
// workers go on forwarding. The hook lives here, in a test build, and not in lb's own loop.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "lb/app.hpp"

int main(int argc, char** argv) {
    const char* path = std::getenv("LB_TEST_STALL_CONTROL_LOOP_WHILE");
    lb::app::LoopHooks hooks;
    if (path && *path)
        hooks.on_tick = [stall = std::string(path)] {
            std::error_code ec;
            while (std::filesystem::exists(stall, ec))
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
        };
    return lb::app::run_command_line(argc, argv, hooks);
}
