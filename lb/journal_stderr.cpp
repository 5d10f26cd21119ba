#include "lb/journal_stderr.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lb::app {

int log_priority(std::string_view line) {
    if (line.find("error") != std::string_view::npos)
        return 3; // LOG_ERR
    if (line.find("warning") != std::string_view::npos)
        return 4; // LOG_WARNING
    return 6;     // LOG_INFO
}

bool stderr_is_journal() {
    const char* stream = std::getenv("JOURNAL_STREAM");
    struct stat st {};
    if (!stream || fstat(STDERR_FILENO, &st) != 0)
        return false;
    return std::string(stream) == fmt::format("{}:{}", st.st_dev, st.st_ino);
}

namespace {

// The text of a line not finished yet (a line may come in several writes). Lines are written
// whole with their prefix, so concurrent writers' lines never interleave within a line: stdio
// locks the stream around each call, and this runs under that lock.
std::string pending;

ssize_t write_all(const std::string& text) {
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(STDERR_FILENO, text.data() + done, text.size() - done);
        if (n < 0)
            return -1;
        done += static_cast<std::size_t>(n);
    }
    return static_cast<ssize_t>(text.size());
}

ssize_t journal_write(void*, const char* data, std::size_t size) {
    pending.append(data, size);
    std::string out;
    std::size_t start = 0;
    for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        const std::string_view line(pending.data() + start, nl + 1 - start);
        out += fmt::format("<{}>{}", log_priority(line), line);
    }
    pending.erase(0, start);
    if (!out.empty() && write_all(out) < 0)
        return -1;
    return static_cast<ssize_t>(size);
}

} // namespace

bool prefix_stderr_for_journal() {
    if (!stderr_is_journal())
        return false;
    cookie_io_functions_t io{};
    io.write = journal_write;
    FILE* stream = fopencookie(nullptr, "w", io);
    if (!stream)
        return false;
    setvbuf(stream, nullptr, _IOLBF, 0);
    stderr = stream; // glibc's stderr is an assignable FILE*; fd 2 itself is left as it is
    return true;
}

} // namespace lb::app
