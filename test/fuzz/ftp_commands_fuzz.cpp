// The FTP helper's line parsers on arbitrary bytes (what clients and servers send through a NAT
// service), and the rewrite of a 227 reply: what it writes must parse back to the same port and
// the new address, with the text around the numbers unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dataplane/ftp_commands.hpp"
#include "test/fuzz/ftp_every_parser.hpp"

using namespace lb::dataplane::ftp;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    lb::fuzz::parse_with_every_parser(line);
    const auto reply = parse_pasv_reply(line);
    if (!reply)
        return 0;
    if (reply->numbers_begin > reply->numbers_end || reply->numbers_end > line.size())
        std::abort();
    for (std::uint32_t address : {0x01020304u, 0xc63364c8u, 0xffffffffu, 0u}) {
        char out[max_line + 64];
        const std::size_t n = rewrite_pasv_reply(line, *reply, address, out, sizeof(out));
        if (n == 0)
            std::abort(); // max_line + 64 always holds a rewritten line of at most max_line
        const std::string_view rewritten(out, n);
        if (rewritten.size() > max_line)
            continue; // longer than any line the helper interprets: passed on, never re-read
        const auto again = parse_pasv_reply(rewritten);
        if (!again || again->endpoint.address != address ||
            again->endpoint.port != reply->endpoint.port ||
            rewritten.substr(0, again->numbers_begin) != line.substr(0, reply->numbers_begin) ||
            rewritten.substr(again->numbers_end) != line.substr(reply->numbers_end))
            std::abort();
    }
    return 0;
}
