// The configuration loader on arbitrary YAML text: it must never crash or throw, whatever the
// file (lb --check and a reload run it on whatever an operator points them at).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "control/config/loader.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const auto result = lb::control::config::load_config_text(text);
        // Either a configuration or errors, never both and never neither.
        if (result.config.has_value() == !result.diagnostics.empty())
            std::abort();
    } catch (...) {
        std::abort(); // load_config_text promises never to throw for bad input
    }
    return 0;
}
