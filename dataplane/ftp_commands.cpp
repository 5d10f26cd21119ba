#include "dataplane/ftp_commands.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <span>

namespace lb::dataplane::ftp {

namespace {

// string_view::substr throws std::out_of_range when `pos` is past the end; a worker must never
// throw (docs/design.md, "The worker never throws"), so the parsers slice with these instead.
// Both clamp: a slice past the end is empty.
std::string_view slice(std::string_view s, std::size_t pos,
                       std::size_t n = std::string_view::npos) {
    if (pos > s.size())
        return {};
    return {s.data() + pos, std::min(n, s.size() - pos)};
}

// `text` (case ignored) equals the first text.size() characters of `word` (upper case).
bool matches_prefix_of(std::string_view text, std::string_view word) {
    if (text.size() > word.size())
        return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c >= 'a' && c <= 'z')
            c = static_cast<char>(c - 'a' + 'A');
        if (c != word[i])
            return false;
    }
    return true;
}

bool starts_with_word(std::string_view line, std::string_view word) {
    return line.size() >= word.size() && matches_prefix_of(slice(line, 0, word.size()), word) &&
           (line.size() == word.size() || line[word.size()] == ' ');
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Up to three digits, 0..255.
std::optional<std::uint32_t> read_octet(std::string_view s, std::size_t& pos) {
    std::size_t start = pos;
    std::uint32_t v = 0;
    while (pos < s.size() && is_digit(s[pos]) && pos - start < 3)
        v = v * 10 + static_cast<std::uint32_t>(s[pos++] - '0');
    if (pos == start || v > 255 || (pos < s.size() && is_digit(s[pos])))
        return std::nullopt;
    return v;
}

// "h1,h2,h3,h4,p1,p2" starting at `pos`.
std::optional<std::array<std::uint32_t, 6>> read_six(std::string_view s, std::size_t& pos) {
    std::array<std::uint32_t, 6> n{};
    for (std::size_t i = 0; i < 6; ++i) {
        if (i > 0) {
            if (pos >= s.size() || s[pos] != ',')
                return std::nullopt;
            ++pos;
        }
        auto v = read_octet(s, pos);
        if (!v)
            return std::nullopt;
        n[i] = *v;
    }
    return n;
}

Endpoint endpoint_of(const std::array<std::uint32_t, 6>& n) {
    return {(n[0] << 24) | (n[1] << 16) | (n[2] << 8) | n[3],
            static_cast<std::uint16_t>((n[4] << 8) | n[5])};
}

std::optional<std::uint16_t> read_port(std::string_view s) {
    if (s.empty() || s.size() > 5)
        return std::nullopt;
    std::uint32_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || ptr != s.data() + s.size() || v == 0 || v > 65535)
        return std::nullopt;
    return static_cast<std::uint16_t>(v);
}

std::optional<std::uint32_t> read_dotted(std::string_view s) {
    std::size_t pos = 0;
    std::uint32_t a = 0;
    for (int i = 0; i < 4; ++i) {
        if (i > 0) {
            if (pos >= s.size() || s[pos] != '.')
                return std::nullopt;
            ++pos;
        }
        auto v = read_octet(s, pos);
        if (!v)
            return std::nullopt;
        a = (a << 8) | *v;
    }
    return pos == s.size() ? std::optional<std::uint32_t>(a) : std::nullopt;
}

} // namespace

Kind classify_server_line(std::string_view line) {
    if (starts_with_word(line, "227"))
        return Kind::pasv_reply;
    if (starts_with_word(line, "229"))
        return Kind::epsv_reply;
    return Kind::none;
}

Kind classify_client_line(std::string_view line) {
    if (starts_with_word(line, "PORT"))
        return Kind::port_command;
    if (starts_with_word(line, "EPRT"))
        return Kind::eprt_command;
    return Kind::none;
}

bool may_become_interesting(std::string_view prefix, bool from_server) {
    static constexpr std::string_view server_words[] = {"227 ", "229 "};
    static constexpr std::string_view client_words[] = {"PORT ", "EPRT "};
    for (std::string_view word : from_server ? std::span<const std::string_view>(server_words)
                                             : std::span<const std::string_view>(client_words))
        if (matches_prefix_of(slice(prefix, 0, word.size()), word))
            return true;
    return false;
}

std::optional<PassiveReply> parse_pasv_reply(std::string_view line) {
    if (line.size() > max_line || classify_server_line(line) != Kind::pasv_reply)
        return std::nullopt;
    // RFC 959 leaves the text around the numbers free; take the first digit after the code.
    std::size_t pos = 4;
    while (pos < line.size() && !is_digit(line[pos]))
        ++pos;
    // The numbers follow a separator: "(", " " or "=" ("-1,..." is not a number).
    if (pos >= line.size() ||
        !(line[pos - 1] == '(' || line[pos - 1] == ' ' || line[pos - 1] == '='))
        return std::nullopt;
    const std::size_t begin = pos;
    auto n = read_six(line, pos);
    // Exactly six numbers: "(h1,...,p2,7)" is not a 227 we understand, and rewriting the first
    // six of seven would hand the client an address it would parse differently.
    if (!n || (pos < line.size() && line[pos] == ','))
        return std::nullopt;
    if (n.has_value() && ((*n)[4] == 0 && (*n)[5] == 0))
        return std::nullopt; // port 0
    return PassiveReply{endpoint_of(*n), begin, pos};
}

std::optional<std::uint16_t> parse_epsv_reply(std::string_view line) {
    if (line.size() > max_line || classify_server_line(line) != Kind::epsv_reply)
        return std::nullopt;
    // "(<d><d><d>port<d>)" where <d> is one delimiter character, usually '|'.
    const std::size_t open = line.find('(');
    if (open == std::string_view::npos || open + 5 > line.size())
        return std::nullopt;
    const char d = line[open + 1];
    if (d < 33 || d > 126 || is_digit(d) || line[open + 2] != d || line[open + 3] != d)
        return std::nullopt;
    const std::size_t end = line.find(d, open + 4);
    if (end == std::string_view::npos || end + 1 >= line.size() || line[end + 1] != ')')
        return std::nullopt;
    return read_port(slice(line, open + 4, end - open - 4));
}

std::optional<Endpoint> parse_port_command(std::string_view line) {
    if (line.size() > max_line || classify_client_line(line) != Kind::port_command)
        return std::nullopt;
    std::size_t pos = 5;
    while (pos < line.size() && line[pos] == ' ')
        ++pos;
    auto n = read_six(line, pos);
    while (pos < line.size() && line[pos] == ' ')
        ++pos;
    if (!n || pos != line.size() || ((*n)[4] == 0 && (*n)[5] == 0))
        return std::nullopt;
    return endpoint_of(*n);
}

std::optional<Endpoint> parse_eprt_command(std::string_view line) {
    if (line.size() > max_line || classify_client_line(line) != Kind::eprt_command)
        return std::nullopt;
    // "EPRT <d>1<d>a.b.c.d<d>port<d>"
    // A bare "EPRT" (no argument) classifies as EPRT too: the slice is then empty.
    std::string_view rest = slice(line, 5);
    while (!rest.empty() && rest.front() == ' ')
        rest.remove_prefix(1);
    while (!rest.empty() && rest.back() == ' ')
        rest.remove_suffix(1);
    if (rest.size() < 2)
        return std::nullopt;
    const char d = rest[0];
    if (d < 33 || d > 126 || rest.back() != d)
        return std::nullopt;
    rest = slice(rest, 1, rest.size() - 2);
    const std::size_t a = rest.find(d);
    if (a == std::string_view::npos || slice(rest, 0, a) != "1")
        return std::nullopt; // only IPv4 (protocol 1)
    const std::size_t b = rest.find(d, a + 1);
    if (b == std::string_view::npos || rest.find(d, b + 1) != std::string_view::npos)
        return std::nullopt;
    auto address = read_dotted(slice(rest, a + 1, b - a - 1));
    auto port = read_port(slice(rest, b + 1));
    if (!address || !port)
        return std::nullopt;
    return Endpoint{*address, *port};
}

std::size_t rewrite_pasv_reply(std::string_view line, const PassiveReply& reply,
                               std::uint32_t address, char* out, std::size_t capacity) {
    char numbers[32];
    const std::uint32_t n[6] = {address >> 24,
                                (address >> 16) & 0xff,
                                (address >> 8) & 0xff,
                                address & 0xff,
                                static_cast<std::uint32_t>(reply.endpoint.port >> 8),
                                static_cast<std::uint32_t>(reply.endpoint.port & 0xff)};
    char* p = numbers;
    for (int i = 0; i < 6; ++i) {
        if (i > 0)
            *p++ = ',';
        p = std::to_chars(p, numbers + sizeof(numbers), n[i]).ptr;
    }
    const std::string_view head = slice(line, 0, reply.numbers_begin);
    const std::string_view tail = slice(line, reply.numbers_end);
    const std::size_t length = head.size() + static_cast<std::size_t>(p - numbers) + tail.size();
    if (length > capacity)
        return 0;
    char* o = std::copy(head.begin(), head.end(), out);
    o = std::copy(numbers, p, o);
    std::copy(tail.begin(), tail.end(), o);
    return length;
}

} // namespace lb::dataplane::ftp
