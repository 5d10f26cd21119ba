// The `replication` section (issue "Session replication"): `lb --check` names every mistake at
// its place, the key files' rules among them; without the section nothing changes; a reload
// that edits it needs a restart, but for its keys, which a reload reads again and applies.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "control/config/key_file.hpp"
#include "control/config/loader.hpp"
#include "control/config/reload_plan.hpp"
#include "test/test_config.hpp"
#include "test/unit/expect_config_error.hpp"

using namespace lb::control::config;

namespace {

// test/test_config.hpp's two interfaces: 4 lines, so the replication section starts on line 5.
const std::string header = lb::test::two_interfaces;

// A key file in /tmp with `content` and `mode`, removed at the end of the test.
struct KeyFile {
    std::string path;
    KeyFile(const std::string& content, mode_t mode) {
        char name[] = "/tmp/lb-sync-key-XXXXXX";
        const int fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
        ::close(fd);
        path = name;
        write(content);
        ::chmod(path.c_str(), mode);
    }
    ~KeyFile() { std::remove(path.c_str()); }
    void write(const std::string& content) const {
        std::ofstream(path, std::ios::trunc) << content;
    }
};

// A fresh directory in /tmp (for FIFOs and links), removed with its contents at the end.
struct TempDir {
    std::string path;
    TempDir() {
        char name[] = "/tmp/lb-sync-dir-XXXXXX";
        REQUIRE(::mkdtemp(name));
        path = name;
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
};

// Another user than root: the owner rule's subject. Tests run as root (chown needs it).
constexpr uid_t nobody = 65534;

const std::string good_secret(64, 'k');

std::string section(const std::string& key_path, const std::string& extra = "") {
    return header + "replication:\n  interface: int\n  peer: 203.0.113.3\n  key_file: " + key_path +
           "\n" + extra;
}

} // namespace

using lb::test::expect_error;

TEST_CASE("replication: a complete section loads with its defaults") {
    KeyFile key(good_secret + "\n", 0600);
    const LoadResult r = load_config_text(section(key.path));
    REQUIRE(r.config);
    REQUIRE(r.config->replication);
    CHECK(r.config->replication->interface == "int");
    CHECK(r.config->replication->peers == std::vector{IpAddress::from_ipv4(0xcb007103u)}); // .3
    CHECK(r.config->replication->port == 8848);
    CHECK(r.config->replication->cluster_id == 1);
    CHECK(r.config->replication->sync_after == Milliseconds{0}); // every connection, at once
    const LoadResult later = load_config_text(section(key.path, "  sync_after: 2s\n"));
    REQUIRE(later.config);
    CHECK(later.config->replication->sync_after == Milliseconds{2000});
    CHECK(read_key_file(key.path).size() == 64); // the trailing newline does not count
    const LoadResult without = load_config_text(header);
    REQUIRE(without.config);
    CHECK_FALSE(without.config->replication);
}

TEST_CASE("replication: every mistake is named at its place") {
    KeyFile key(good_secret, 0600);
    SECTION("an unknown interface") {
        std::string yaml = section(key.path);
        yaml.replace(yaml.find("interface: int"), 14, "interface: dmz");
        expect_error(yaml, 6, 14, "interface 'dmz' is not defined");
    }
    SECTION("a peer off the interface's subnet") {
        std::string yaml = section(key.path);
        yaml.replace(yaml.find("203.0.113.3"), 11, "198.51.100.3");
        expect_error(yaml, 7, 9, "peer 198.51.100.3 is not on interface 'int' (203.0.113.1/24)");
    }
    SECTION("the peer is this node") {
        std::string yaml = section(key.path);
        yaml.replace(yaml.find("203.0.113.3"), 11, "203.0.113.1");
        expect_error(yaml, 7, 9, "peer 203.0.113.1 is this node's own address");
    }
    SECTION("a bad port") {
        expect_error(section(key.path, "  port: 0\n"), 9, 9, "port: '0' is not a UDP port");
        expect_error(section(key.path, "  port: 70000\n"), 9, 9, "is not a UDP port");
    }
    SECTION("a bad cluster id") {
        expect_error(section(key.path, "  cluster_id: 0\n"), 9, 15, "cluster_id: '0'");
    }
    SECTION("sync_after too long, or not a duration") {
        expect_error(section(key.path, "  sync_after: 2m\n"), 9, 15, "sync_after: at most 60s");
        expect_error(section(key.path, "  sync_after: soon\n"), 9, 15, "sync_after");
    }
    SECTION("an unknown key") {
        expect_error(section(key.path, "  pears: [203.0.113.4]\n"), 9, 3,
                     "unknown key 'pears' in replication");
    }
    SECTION("a missing key file") {
        expect_error(section("/nonexistent/sync.key"), 8, 13,
                     "cannot read /nonexistent/sync.key: No such file or directory");
    }
    SECTION("a relative key file path") {
        expect_error(section("sync.key"), 8, 13, "key_file: needs an absolute path");
    }
}

// `peers`: the list form (issue 14: N active nodes, each replicating to all the others).
std::string with_peers(const std::string& key_path, const std::string& peers) {
    return header + "replication:\n  interface: int\n  peers: " + peers +
           "\n  key_file: " + key_path + "\n";
}

TEST_CASE("replication: a list of peers") {
    KeyFile key(good_secret, 0600);
    SECTION("loads in order") {
        const LoadResult r =
            load_config_text(with_peers(key.path, "[203.0.113.3, 203.0.113.4, 203.0.113.9]"));
        INFO(lb::test::only_errors(r));
        REQUIRE(r.config);
        CHECK(r.config->replication->peers == std::vector{IpAddress::from_ipv4(0xcb007103u),
                                                          IpAddress::from_ipv4(0xcb007104u),
                                                          IpAddress::from_ipv4(0xcb007109u)});
    }
    SECTION("a block list works as well") {
        const LoadResult r =
            load_config_text(with_peers(key.path, "\n    - 203.0.113.3\n    - 203.0.113.4"));
        INFO(lb::test::only_errors(r));
        REQUIRE(r.config);
        CHECK(r.config->replication->peers.size() == 2);
    }
    SECTION("peer and peers together") {
        expect_error(section(key.path, "  peers: [203.0.113.4]\n"), 9, 10,
                     "give either 'peer' (one node) or 'peers' (a list), not both");
    }
    SECTION("neither") {
        std::string yaml = section(key.path);
        yaml.erase(yaml.find("  peer: 203.0.113.3\n"), 20);
        expect_error(yaml, 6, 3, "replication needs 'peers'");
    }
    SECTION("an empty list, or not a list") {
        expect_error(with_peers(key.path, "[]"), 7, 10, "peers must be a list of one or more");
        expect_error(with_peers(key.path, "203.0.113.3"), 7, 10, "peers must be a list");
    }
    SECTION("too many") {
        std::string list = "[";
        for (int i = 0; i < 17; ++i)
            list += (i ? ", 203.0.113." : "203.0.113.") + std::to_string(10 + i);
        expect_error(with_peers(key.path, list + "]"), 7, 10, "peers: 17 addresses, at most 16");
    }
    SECTION("not an address") {
        expect_error(with_peers(key.path, "[203.0.113.3, 203.0.113]"), 7, 24, "203.0.113");
    }
    SECTION("listed twice") {
        expect_error(with_peers(key.path, "[203.0.113.3, 203.0.113.4, 203.0.113.3]"), 7, 37,
                     "peer 203.0.113.3 is listed twice (first at line 7)");
    }
    SECTION("our own address among them") {
        expect_error(with_peers(key.path, "[203.0.113.3, 203.0.113.1]"), 7, 24,
                     "peer 203.0.113.1 is this node's own address on 'int'");
    }
    SECTION("one off the interface's subnet") {
        expect_error(with_peers(key.path, "[203.0.113.3, 198.51.100.7]"), 7, 24,
                     "peer 198.51.100.7 is not on interface 'int' (203.0.113.1/24)");
    }
}

TEST_CASE("replication: the key file's rules") {
    SECTION("too short") {
        KeyFile key(std::string(31, 'k') + "\n", 0600);
        expect_error(section(key.path), 8, 13,
                     "holds 31 bytes; a replication key needs at least 32");
    }
    SECTION("readable by others") {
        KeyFile key(good_secret, 0644);
        expect_error(section(key.path), 8, 13,
                     "may be read or written by group or others (mode 0644)");
        CHECK_THROWS_WITH(read_key_file(key.path), Catch::Contains("chmod 600"));
    }
    SECTION("readable by the group") {
        KeyFile key(good_secret, 0640);
        expect_error(section(key.path), 8, 13, "(mode 0640)");
    }
    SECTION("not a regular file") {
        expect_error(section("/tmp"), 8, 13, "/tmp is not a regular file");
    }
    SECTION("32 bytes exactly is enough") {
        KeyFile key(std::string(32, 'k'), 0400);
        CHECK(load_config_text(section(key.path)).config);
    }
}

TEST_CASE("replication: a reload that changes it needs a restart") {
    KeyFile key(good_secret, 0600);
    const auto running = *load_config_text(section(key.path)).config;
    auto next = running;
    next.replication->peers = {IpAddress::from_ipv4(0xcb007104u)};
    const auto changed = lb::control::config::restart_only_changes(running, next);
    CHECK(changed == std::vector<std::string>{"replication"});
    next.replication.reset();
    CHECK(lb::control::config::restart_only_changes(running, next) ==
          std::vector<std::string>{"replication"});
}

namespace {

// Whether a process whose effective uid is `uid` finds the key at `path` usable: a child takes
// that uid, so that this process keeps root's rights.
bool usable_as(uid_t uid, const std::string& path) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        if (::setgid(uid) != 0 || ::setuid(uid) != 0)
            ::_exit(2);
        ::_exit(key_file_problem(path) ? 1 : 0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) != 2);
    return WEXITSTATUS(status) == 0;
}

bool running_as_root() {
    if (::geteuid() == 0)
        return true;
    WARN("not root: files cannot be given to another owner, the owner rule is not tested");
    return false;
}

} // namespace

TEST_CASE("replication: a key file owned by another user is refused") {
    if (!running_as_root())
        return;
    KeyFile key(good_secret, 0600);
    REQUIRE(::chown(key.path.c_str(), nobody, nobody) == 0);
    expect_error(section(key.path), 8, 13,
                 key.path + " is owned by uid 65534, not by root; whoever owns a shared secret");
    CHECK_THROWS_WITH(read_key_file(key.path), Catch::Contains("chown root " + key.path));
    // The user lb runs as may own it: it can read the key anyway.
    CHECK(usable_as(nobody, key.path));
    REQUIRE(::chown(key.path.c_str(), 0, 0) == 0);
    CHECK_FALSE(key_file_problem(key.path));
}

TEST_CASE("replication: a FIFO as key file is refused at once, even with no writer") {
    TempDir dir;
    const std::string fifo = dir.path + "/sync.key";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    const auto start = std::chrono::steady_clock::now();
    expect_error(section(fifo), 8, 13, fifo + " is not a regular file");
    CHECK_THROWS_WITH(read_key_file(fifo), Catch::Contains("is not a regular file"));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
}

// Links are followed (a key kept under a versioned name, a secret mounted by an orchestrator):
// every rule is checked on the file the link names, which is the one read.
TEST_CASE("replication: a key file may be a symbolic link, judged by the file it names") {
    TempDir dir;
    KeyFile key(good_secret, 0600);
    const std::string link = dir.path + "/sync.key";
    REQUIRE(::symlink(key.path.c_str(), link.c_str()) == 0);
    SECTION("to a good key") {
        CHECK(load_config_text(section(link)).config);
        CHECK(read_key_file(link).size() == 64);
    }
    SECTION("to a key others may read") {
        REQUIRE(::chmod(key.path.c_str(), 0644) == 0);
        expect_error(section(link), 8, 13,
                     link + " may be read or written by group or others (mode 0644)");
    }
    SECTION("to a key another user owns") {
        if (!running_as_root())
            return;
        REQUIRE(::chown(key.path.c_str(), nobody, nobody) == 0);
        expect_error(section(link), 8, 13, link + " is owned by uid 65534");
    }
    SECTION("to nothing") {
        REQUIRE(::unlink(key.path.c_str()) == 0);
        expect_error(section(link), 8, 13, "cannot read " + link + ": No such file or directory");
    }
}

TEST_CASE("replication: previous_key_file, a second key while the key is changed") {
    KeyFile key(good_secret, 0600);
    KeyFile old(std::string(64, 'o') + "\n", 0600);
    const auto with_previous = [&](const std::string& path) {
        return section(key.path, "  previous_key_file: " + path + "\n");
    };
    SECTION("loads, and both keys are read") {
        const LoadResult r = load_config_text(with_previous(old.path));
        INFO(lb::test::only_errors(r));
        REQUIRE(r.config);
        CHECK(r.config->replication->previous_key_file == old.path);
        const ReplicationKeys keys = read_replication_keys(*r.config->replication);
        CHECK(keys.current == std::vector<std::uint8_t>(64, 'k'));
        CHECK(keys.previous == std::vector<std::uint8_t>(64, 'o'));
    }
    SECTION("is optional: without it there is no previous key") {
        const auto c = lb::test::config_from(section(key.path));
        CHECK(c.replication->previous_key_file.empty());
        CHECK(read_replication_keys(*c.replication).previous.empty());
    }
    SECTION("a relative path") {
        expect_error(with_previous("old.key"), 9, 22, "previous_key_file: needs an absolute path");
    }
    SECTION("missing") {
        expect_error(with_previous("/nonexistent/old.key"), 9, 22,
                     "previous_key_file: cannot read /nonexistent/old.key: No such file");
    }
    SECTION("readable by others") {
        REQUIRE(::chmod(old.path.c_str(), 0644) == 0);
        expect_error(with_previous(old.path), 9, 22,
                     "previous_key_file: " + old.path + " may be read or written by group");
    }
    SECTION("too short") {
        old.write(std::string(31, 'o'));
        expect_error(with_previous(old.path), 9, 22,
                     "previous_key_file: " + old.path + " holds 31 bytes");
    }
    SECTION("owned by another user") {
        if (!running_as_root())
            return;
        REQUIRE(::chown(old.path.c_str(), nobody, nobody) == 0);
        expect_error(with_previous(old.path), 9, 22, old.path + " is owned by uid 65534");
    }
    SECTION("the same key as key_file, a trailing newline aside") {
        old.write(good_secret + "\n");
        expect_error(with_previous(old.path), 9, 22,
                     "previous_key_file: " + old.path + " holds the same key as key_file (" +
                         key.path + "); it is for the other key");
        Replication r;
        r.key_file = key.path;
        r.previous_key_file = old.path;
        CHECK_THROWS_WITH(read_replication_keys(r),
                          Catch::StartsWith("replication.previous_key_file: ") &&
                              Catch::Contains("holds the same key as key_file"));
    }
    SECTION("the same file as key_file") {
        expect_error(with_previous(key.path), 9, 22, "holds the same key as key_file");
    }
    SECTION("both files wrong: each at its place") {
        key.write("short");
        const LoadResult r = load_config_text(with_previous("/nonexistent/old.key"));
        REQUIRE_FALSE(r.config);
        REQUIRE(r.diagnostics.size() == 2);
        CHECK(r.diagnostics[0].location.line == 8);
        CHECK_THAT(r.diagnostics[0].message, Catch::StartsWith("key_file: "));
        CHECK(r.diagnostics[1].location.line == 9);
        CHECK_THAT(r.diagnostics[1].message, Catch::StartsWith("previous_key_file: "));
    }
}

namespace {

lb::control::config::ReloadPlan reload(const std::string& running, const std::string& next) {
    return lb::control::config::plan_reload(lb::test::config_from(next),
                                            lb::test::config_from(running), "lb.yaml");
}

std::vector<std::uint8_t> bytes(std::size_t n, char c) {
    return std::vector<std::uint8_t>(n, c);
}

} // namespace

// A key rotation must not stop replication: the key files are applied by a reload, and read
// again at every one.
TEST_CASE("replication: a reload applies the keys without a restart") {
    KeyFile key(good_secret, 0600);
    KeyFile fresh(std::string(64, 'n'), 0600);
    SECTION("another key_file") {
        const auto plan = reload(section(key.path), section(fresh.path));
        REQUIRE(plan.next);
        CHECK(plan.messages.empty());
        CHECK(plan.next->replication->key_file == fresh.path);
        REQUIRE(plan.reads.replication_keys);
        CHECK(plan.reads.replication_keys->current == bytes(64, 'n'));
        CHECK(plan.reads.replication_keys->previous.empty());
    }
    SECTION("a rotation: the new key, the old one as previous, then the old one removed") {
        const std::string during = section(fresh.path, "  previous_key_file: " + key.path + "\n");
        const auto plan = reload(section(key.path), during);
        REQUIRE(plan.next);
        CHECK(plan.messages.empty());
        REQUIRE(plan.reads.replication_keys);
        CHECK(plan.reads.replication_keys->current == bytes(64, 'n'));
        CHECK(plan.reads.replication_keys->previous == bytes(64, 'k'));
        const auto after = reload(during, section(fresh.path));
        REQUIRE(after.next);
        CHECK(after.messages.empty());
        REQUIRE(after.reads.replication_keys);
        CHECK(after.reads.replication_keys->previous.empty());
    }
    SECTION("the same path holding a new key: read again") {
        const auto running = lb::test::config_from(section(key.path));
        key.write(std::string(64, 'n'));
        const auto plan = lb::control::config::plan_reload(running, running, "lb.yaml");
        REQUIRE(plan.reads.replication_keys);
        CHECK(plan.reads.replication_keys->current == bytes(64, 'n'));
    }
    SECTION("beside a change that needs a restart, the keys still apply") {
        const auto plan = reload(section(key.path), section(fresh.path, "  port: 9000\n"));
        REQUIRE(plan.next);
        CHECK(plan.messages == std::vector<std::string>{"needs restart: replication (not "
                                                        "applied; the running value is kept)"});
        CHECK(plan.next->replication->port == 8848);
        CHECK(plan.next->replication->key_file == fresh.path);
        REQUIRE(plan.reads.replication_keys);
        CHECK(plan.reads.replication_keys->current == bytes(64, 'n'));
    }
    SECTION("a section the reload brings waits for the restart, keys and all") {
        const auto plan = reload(header, section(key.path));
        REQUIRE(plan.next);
        CHECK(plan.messages.size() == 1);
        CHECK_FALSE(plan.next->replication);
        CHECK_FALSE(plan.reads.replication_keys);
    }
    SECTION("only the keys' paths are not a restart's business") {
        const auto running = lb::test::config_from(section(key.path));
        auto next = running;
        next.replication->key_file = fresh.path;
        next.replication->previous_key_file = key.path;
        CHECK(lb::control::config::restart_only_changes(running, next).empty());
    }
}

TEST_CASE("replication: a reload whose key became unusable is refused, the running keys kept") {
    KeyFile key(good_secret, 0600);
    const auto running = lb::test::config_from(section(key.path));
    SECTION("changed after the file was checked") {
        key.write("short\n");
        const auto plan = lb::control::config::plan_reload(running, running, "lb.yaml");
        CHECK_FALSE(plan.next);
        CHECK_FALSE(plan.reads.replication_keys);
        REQUIRE(plan.messages.size() == 3);
        CHECK_THAT(plan.messages[0],
                   Catch::StartsWith("replication.key_file: " + key.path + " holds 5 bytes"));
        CHECK(plan.messages[1] == "the running replication keys are kept");
        CHECK(plan.messages[2] == "the running configuration is unchanged");
    }
    SECTION("read from the file: named at its place") {
        TempDir dir;
        const std::string path = dir.path + "/lb.yaml";
        std::ofstream(path) << section(key.path);
        REQUIRE(::chmod(key.path.c_str(), 0640) == 0);
        const auto plan = lb::control::config::plan_reload(path, running);
        CHECK_FALSE(plan.next);
        REQUIRE_FALSE(plan.messages.empty());
        CHECK_THAT(plan.messages[0],
                   Catch::StartsWith(path + ":8:13: key_file: ") && Catch::Contains("(mode 0640)"));
    }
}
