// Every FTP line parser on one line, results discarded: what the worker may call on a client's or
// a server's bytes. Shared by the unit test (none may throw) and the fuzz target.
#pragma once

#include <string_view>

#include "dataplane/ftp_commands.hpp"

namespace lb::fuzz {

inline void parse_with_every_parser(std::string_view line) {
    using namespace lb::dataplane::ftp;
    (void)classify_client_line(line);
    (void)classify_server_line(line);
    (void)may_become_interesting(line, true);
    (void)may_become_interesting(line, false);
    (void)parse_port_command(line);
    (void)parse_eprt_command(line);
    (void)parse_epsv_reply(line);
    if (auto r = parse_pasv_reply(line)) {
        char out[max_line + 64];
        (void)rewrite_pasv_reply(line, *r, 0x01020304u, out, sizeof(out));
    }
}

} // namespace lb::fuzz
