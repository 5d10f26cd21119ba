#include "control/config/key_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <stdexcept>

#include <fmt/format.h>

#include "control/config/file.hpp"

namespace lb::control::config {

namespace {

struct Loaded {
    std::vector<std::uint8_t> key;
    std::optional<std::string> problem;
};

// Whoever owns the file may change the key or let others read it: only root, or the user lb
// runs as (who could read the key anyway), may own it.
std::optional<std::string> owner_problem(const std::string& path, const struct stat& st) {
    const uid_t self = ::geteuid();
    if (st.st_uid == 0 || st.st_uid == self)
        return std::nullopt;
    const std::string allowed =
        self == 0 ? "root" : fmt::format("root or uid {} (the user lb runs as)", self);
    return fmt::format("{} is owned by uid {}, not by {}; whoever owns a shared secret can change "
                       "it or let others read it: chown root {}",
                       path, st.st_uid, allowed, path);
}

std::optional<std::string> mode_problem(const std::string& path, const struct stat& st) {
    if ((st.st_mode & 077) == 0)
        return std::nullopt;
    return fmt::format("{} may be read or written by group or others (mode {:04o}); a shared "
                       "secret must not be: chmod 600 {}",
                       path, st.st_mode & 07777, path);
}

std::string too_large(const std::string& path, const std::string& size) {
    return fmt::format("{} has {} bytes; a replication key is at most {}", path, size,
                       max_replication_key_bytes);
}

// The rules that the open file's status decides, before a byte of it is read.
std::optional<std::string> status_problem(const std::string& path, const OpenedFile& file) {
    if (!file.regular())
        return fmt::format("{} is not a regular file", path);
    if (auto problem = owner_problem(path, file.status()))
        return problem;
    if (auto problem = mode_problem(path, file.status()))
        return problem;
    if (static_cast<std::size_t>(file.status().st_size) > max_replication_key_bytes)
        return too_large(path, std::to_string(file.status().st_size));
    return std::nullopt;
}

std::optional<std::string> length_problem(const std::string& path, std::size_t length) {
    if (length >= min_replication_key_bytes)
        return std::nullopt;
    return fmt::format("{} holds {} bytes; a replication key needs at least {} (e.g. openssl rand "
                       "-hex 32 > {})",
                       path, length, min_replication_key_bytes, path);
}

Loaded load(const std::string& path) {
    Loaded out;
    std::optional<std::string> text;
    try {
        OpenedFile file(path);
        out.problem = status_problem(path, file);
        if (out.problem)
            return out;
        text = file.read_at_most(max_replication_key_bytes);
    } catch (const ConfigFileError& e) {
        out.problem = e.what();
        return out;
    }
    if (!text) { // it grew after fstat
        out.problem = too_large(path, fmt::format("more than {}", max_replication_key_bytes));
        return out;
    }
    out.key.assign(text->begin(), text->end());
    if (!out.key.empty() && out.key.back() == '\n')
        out.key.pop_back();
    out.problem = length_problem(path, out.key.size());
    return out;
}

// Both files holding one key is a rotation gone wrong (most likely the new key copied into
// both): a node still on the other key would not be heard.
KeyProblem same_key(const Replication& r) {
    return {true, fmt::format("{} holds the same key as key_file ({}); it is for the other key "
                              "while the key is changed: put that key in it, or remove "
                              "previous_key_file",
                              r.previous_key_file, r.key_file)};
}

} // namespace

std::optional<std::string> key_file_problem(const std::string& path) {
    return load(path).problem;
}

std::vector<std::uint8_t> read_key_file(const std::string& path) {
    Loaded l = load(path);
    if (l.problem)
        throw std::runtime_error("replication.key_file: " + *l.problem);
    return std::move(l.key);
}

std::string KeyProblem::message() const {
    return (previous ? "previous_key_file: " : "key_file: ") + text;
}

LoadedKeys load_replication_keys(const Replication& r) {
    LoadedKeys out;
    Loaded current = r.key_file.empty() ? Loaded{} : load(r.key_file);
    if (current.problem)
        out.problems.push_back({false, *current.problem});
    out.keys.current = std::move(current.key);
    if (r.previous_key_file.empty())
        return out;
    Loaded previous = load(r.previous_key_file);
    if (previous.problem)
        out.problems.push_back({true, *previous.problem});
    else if (!current.problem && previous.key == out.keys.current)
        out.problems.push_back(same_key(r));
    out.keys.previous = std::move(previous.key);
    return out;
}

ReplicationKeys read_replication_keys(const Replication& r) {
    LoadedKeys loaded = load_replication_keys(r);
    if (!loaded.problems.empty())
        throw std::runtime_error("replication." + loaded.problems.front().message());
    return std::move(loaded.keys);
}

} // namespace lb::control::config
