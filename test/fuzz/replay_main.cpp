// Replays fuzz inputs without libFuzzer: `TARGET FILE|DIR...` runs LLVMFuzzerTestOneInput on
// every file once. The normal (g++) build uses it so that every committed corpus entry, crashes
// found by fuzzing among them, is a regression test in every test run.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

void run_one(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

} // namespace

int main(int argc, char** argv) {
    LLVMFuzzerInitialize(&argc, &argv);
    std::size_t runs = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path path(argv[i]);
        if (std::filesystem::is_directory(path)) {
            for (const auto& entry : std::filesystem::directory_iterator(path))
                if (entry.is_regular_file()) {
                    run_one(entry.path());
                    ++runs;
                }
        } else {
            run_one(path);
            ++runs;
        }
    }
    std::printf("replayed %zu input(s)\n", runs);
    return runs > 0 ? 0 : 1;
}
