#include "modules/bgp/bird_reply.hpp"

#include <cctype>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace lb::control::bgp {

namespace {

bool coded(const std::string& line) {
    return line.size() >= 5 && std::isdigit(static_cast<unsigned char>(line[0])) &&
           std::isdigit(static_cast<unsigned char>(line[1])) &&
           std::isdigit(static_cast<unsigned char>(line[2])) &&
           std::isdigit(static_cast<unsigned char>(line[3])) && (line[4] == '-' || line[4] == ' ');
}

std::vector<std::string> words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> out;
    for (std::string w; in >> w;)
        out.push_back(w);
    return out;
}

bool looks_ipv4(const std::string& s) {
    int dots = 0;
    for (char ch : s) {
        if (ch == '.')
            ++dots;
        else if (!std::isdigit(static_cast<unsigned char>(ch)))
            return false;
    }
    return dots == 3;
}

} // namespace

std::optional<BirdReply> take_bird_reply(std::string& buffer) {
    BirdReply reply;
    int code = 0;
    std::size_t at = 0;
    for (;;) {
        const std::size_t end = buffer.find('\n', at);
        if (end == std::string::npos)
            return std::nullopt;
        const std::string line = buffer.substr(at, end - at);
        at = end + 1;
        if (!line.empty() && line[0] == '+')
            continue; // spontaneous: no reply's
        if (!line.empty() && line[0] == ' ') {
            reply.lines.push_back({code, line.substr(1)});
            continue;
        }
        if (!coded(line))
            throw std::runtime_error(
                fmt::format("not a BIRD reply line: '{}'", line.substr(0, 80)));
        code = std::stoi(line.substr(0, 4));
        reply.lines.push_back({code, line.substr(5)});
        if (line[4] == ' ') {
            buffer.erase(0, at);
            return reply;
        }
    }
}

bool configure_succeeded(const BirdReply& reply) {
    const int c = reply.code();
    return c == 3 || c == 4 || c == 5 || c == 18 || c == 20;
}

std::vector<ProtocolRow> parse_show_protocols(const BirdReply& reply) {
    std::vector<ProtocolRow> rows;
    for (const auto& l : reply.lines) {
        if (l.code != 1002)
            continue;
        const auto w = words(l.text);
        if (w.size() < 5)
            continue;
        ProtocolRow r{w[0], w[1], w[2], w[3], w[4], {}};
        for (std::size_t i = 5; i < w.size(); ++i)
            r.info += (r.info.empty() ? "" : " ") + w[i];
        rows.push_back(std::move(r));
    }
    return rows;
}

std::vector<BfdRow> parse_show_bfd_sessions(const BirdReply& reply) {
    std::vector<BfdRow> rows;
    for (const auto& l : reply.lines) {
        const auto w = words(l.text);
        if (w.size() >= 3 && looks_ipv4(w[0]))
            rows.push_back({w[0], w[1], w[2]});
    }
    return rows;
}

std::string configure_command(const std::string& path) {
    if (path.find_first_of("\"\\\n\r") != std::string::npos)
        throw std::invalid_argument(
            fmt::format("bgp.config '{}': BIRD cannot be given a path with quotes, backslashes "
                        "or line breaks",
                        path));
    return fmt::format("configure \"{}\"\n", path);
}

} // namespace lb::control::bgp
