// lb: the balancer's binary. Everything is in lb's application library (lb/meson.build).
#include "lb/app.hpp"

int main(int argc, char** argv) {
    return lb::app::run_command_line(argc, argv);
}
