"""Session replication under faults (issue 21), between two real lb processes of the NAT pair:
the sync link cut for longer than the copies live, a standby restarted in the middle of its
dump, captured datagrams replayed, failback while a long dump arrives, a soak of alternating
kill -9 failovers, and a peer whose wall clock was stepped back. In every case no connection
is lost and nothing is counted as in sync that is not."""

import glob
import json
import os
import subprocess
import threading
import time

import pytest

from ha import NODES, HaLab, Node, master_down_interval
from netlab import Lab
from replication_lab import (ECHO_SERVICE, FLOW_SERVICE, PacedDownload, SyncCapture, big_file,
                             block_sync, flows_created, heal_sync, make_udp_flows,
                             pair_node_config, pair_with_idle_clients, replay, replication,
                             send_udp_flows, sha256, sink_udp_flows, slow_sync_link, start_node,
                             start_pair, wait_role)
from topology import wait_for

FLOWS = 20000
# The flows must outlive the test: they are idle once made.
LONG_UDP = {"udp": "300s"}
PACE = 256 << 10  # bytes per second of the paced downloads


@pytest.fixture
def nat_ha():
    with Lab("rfl") as lab:
        yield HaLab(lab, nat=True)


@pytest.fixture(autouse=True)
def duration(request):
    started = time.time()
    yield
    print(f"{request.node.name}: {time.time() - started:.1f} s")


def sample(node, what):
    """`lbctl --json WHAT` of `node`, or None while it does not answer (starting, or gone)."""
    if node.process.poll() is not None:
        return None
    try:
        code, out, _ = node.ctl("--json", what, timeout=5)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(out) if code == 0 else None


def sample_replication(node):
    """The pair's view (node and its one peer in one dictionary), or None."""
    r = sample(node, "replication")
    if r is None or len(r.get("peers", [])) != 1:
        return None
    r.update(r.pop("peers")[0])
    return r


def fresh_connections(node):
    """connections_active from a stats file written after this call: the second fresh one, for
    the first may have been counted before it."""
    assert wait_for(lambda: os.path.exists(node.stats_path), timeout=5)
    node.stats()
    return node.stats()["connections_active"]


def both_in_sync(*nodes):
    return all(replication(n)["state"] == "in sync" for n in nodes)


def counters(node):
    """What must not move when bad input arrives: the table and what peers' entries did."""
    r = replication(node)
    return {"state": r["state"], "deleted": r["deleted"],
            "deletions_refused": r.get("deletions_refused"),
            "connections_active": node.stats()["connections_active"]}


def start_download(ha, standby, holds):
    """A paced download of `big` through the master, once it is under way and the standby
    holds its connection beside the `holds` it had: a failover before that would lose a
    connection nobody told the standby about, and it would rightly reset it."""
    download = PacedDownload(ha, "big", PACE)
    assert wait_for(lambda: download.received() > 0, timeout=10), download.lines()
    assert wait_for(lambda: standby.stats()["connections_active"] > holds, timeout=10), \
        replication(standby)
    return download


def serve_big(ha, megabytes):
    """A file on the real server's HTTP port (the VIP's port 80); its path."""
    source = big_file(ha, megabytes)
    os.symlink(source, os.path.join(ha.lab.tmp, "www-rs1-8080", "big"))
    return source


# -- 1. the sync link cut for longer than the copies live ----------------------------------------

SHORT_COPIES = {"tcp_established": "10s"}


def test_sync_blocked_past_the_copies_life_then_healed_loses_nothing(nat_ha):
    """Replication between the nodes dropped both ways (nft on B; VRRP still passes) for 15 s,
    while the copies on B live 10 s and the 200 connections stay busy through A: when the link
    heals, none of A's connections is deleted or reset, B holds them all again within seconds,
    and they survive A's kill -9."""
    ha = nat_ha
    count = 200
    a, b, clients = pair_with_idle_clients(ha, count, timeouts=SHORT_COPIES)
    before = replication(a)
    block_sync(ha, "b")
    assert wait_for(lambda: replication(b)["state"] == "peer lost", timeout=5), replication(b)
    blocked = time.time()
    while time.time() - blocked < 15:
        assert clients.echo_round(with_resets=True) == (count, 0, 0), replication(a)
        assert a.stats()["connections_active"] >= count
        time.sleep(2)
    print(f"after {time.time() - blocked:.0f} s of a cut link, B holds "
          f"{b.stats()['connections_active']} of the {count} copies")
    heal_sync(ha, "b")
    healed = time.time()
    assert wait_for(lambda: both_in_sync(a, b), timeout=15), (replication(a), replication(b))
    assert wait_for(lambda: b.stats()["connections_active"] >= count, timeout=15), \
        (b.stats()["connections_active"], replication(b))
    print(f"healed: in sync and B holds all {count} again {time.time() - healed:.1f} s later; "
          f"A refused {replication(a).get('deletions_refused')} deletions")
    assert clients.echo_round(with_resets=True) == (count, 0, 0), replication(a)
    after = replication(a)
    assert after["deleted"] == before["deleted"], (before, after)
    assert a.stats()["connections_active"] >= count
    a.kill()
    wait_role(b, "MASTER")
    assert clients.echo_round(with_resets=True) == (count, 0, 0), replication(b)


# -- 2. the standby restarted in the middle of its dump ------------------------------------------

def watch_in_sync_claims(node, master_holds, until, timeout=60):
    """Samples `node`'s replication state as fast as lbctl answers until `until(view)`, and
    asserts at every sample that it never says `in sync` holding fewer entries than
    `master_holds`. Returns the last view and the states seen, in order."""
    deadline = time.time() + timeout
    states, counted = [], False
    while time.time() < deadline:
        r = sample_replication(node)
        if r is None:
            assert node.process.poll() is None, node.log()
            time.sleep(0.005)
            continue
        if not states or states[-1] != r["state"]:
            states.append(r["state"])
        if r["state"] == "in sync":
            # A node started empty holds only what it applied.
            assert r["applied"] >= master_holds, (r, states)
            if not counted:
                held = fresh_connections(node)
                assert held >= master_holds, (held, master_holds, r, states)
                counted = True
        if until(r):
            return r, states
    raise AssertionError(f"{node.node}: states {states}, last {r}")


def test_standby_restarted_mid_dump_twice_never_claims_sync_early(nat_ha):
    """A holds 20,000 flows; B is killed (-9) and started again while the dump arrives, twice,
    then left to finish. Sampled all along, B never says `in sync` holding fewer entries than
    A; after A's kill -9 every flow is on B: the same datagrams make no new connection there."""
    ha = nat_ha
    sink_udp_flows(ha)
    a = start_node(ha, "a", 150, "MASTER", [FLOW_SERVICE], timeouts=LONG_UDP)
    make_udp_flows(ha, a, FLOWS)
    holds = fresh_connections(a)
    # A dump takes about 0.1 s here: slowed to a second or two, it is caught on its way.
    slow_sync_link(ha, "a")
    config = pair_node_config(ha, "b", 100, [FLOW_SERVICE], timeouts=LONG_UDP)
    interrupted, starts = 0, 0
    while interrupted < 2:
        starts += 1
        assert starts <= 8, "the dump was never caught on its way"
        # Killed at the dump's start, then half way.
        threshold = (1, holds // 2)[interrupted]
        b = Node(ha, "b", config, wait=False)
        r, states = watch_in_sync_claims(
            b, holds, lambda r: r["state"] == "in sync" or
            (r["state"] == "receiving bulk" and r["applied"] >= threshold))
        b.kill()
        if r["state"] != "in sync":
            interrupted += 1
            print(f"B killed in the middle of the dump: {r['applied']} of {holds} applied")
    b = Node(ha, "b", config, wait=False)
    r, states = watch_in_sync_claims(b, holds, lambda r: r["state"] == "in sync")
    print(f"B started {starts + 1} times, killed {interrupted} times in the dump; last run's "
          f"states {states}")
    wait_role(b, "BACKUP")
    assert fresh_connections(b) >= holds
    a.kill()
    wait_role(b, "MASTER")
    assert fresh_connections(b) >= holds
    created = flows_created(b)
    send_udp_flows(ha, FLOWS)
    time.sleep(0.5)
    assert flows_created(b) == created, "flows the new master did not have"
    # The count is the one to watch: ten new flows are ten more.
    send_udp_flows(ha, 10, first_port=10000 + FLOWS)
    assert wait_for(lambda: flows_created(b) == created + 10, timeout=5), flows_created(b)


# -- 3. captured datagrams replayed --------------------------------------------------------------

def test_replayed_datagrams_are_dropped_and_change_nothing(nat_ha):
    """Real replication datagrams captured between A and B, sent again byte for byte (the source
    spoofed): A's datagram to B again to B (`replayed`), back to A as if from B (`reflected`),
    to B after B restarted (`not_for_us`), and B's datagram of its previous run to A
    (`stale_epoch`). Each is counted, neither node's table or deletions move, both stay in
    sync, and a failover afterwards loses nothing."""
    ha = nat_ha
    count = 400
    capture = SyncCapture(ha, "b")
    a, b, clients = pair_with_idle_clients(ha, count)
    time.sleep(0.5)  # hellos and acks both ways
    datagrams = capture.stop()
    entries_a_to_b = [d for d in datagrams if d["src"] == NODES["a"] and d["type"] == 2]
    from_b = [d for d in datagrams if d["src"] == NODES["b"]]
    assert entries_a_to_b and from_b, [(d["src"], d["type"]) for d in datagrams]
    old_entries, old_from_b = entries_a_to_b[-1], from_b[-1]

    def replayed(datagram, to, source, node, reason):
        started = time.time()
        others = {n: counters(n) for n in (a, b)}
        dropped = replication(node)["dropped"].get(reason, 0)
        replay(ha, datagram, to, source)
        assert wait_for(lambda: replication(node)["dropped"].get(reason, 0) >= dropped + 1,
                        timeout=5), (reason, replication(node))
        time.sleep(0.3)  # anything it might have set off
        for n, seen in others.items():
            assert counters(n) == seen, (reason, n.node, seen, replication(n))
        print(f"{reason}: {time.time() - started:.1f} s")

    replayed(old_entries, "b", NODES["a"], b, "replayed")
    replayed(old_entries, "a", NODES["b"], a, "reflected")
    b.kill()
    b = start_node(ha, "b", 100, "BACKUP", [ECHO_SERVICE])
    assert wait_for(lambda: both_in_sync(a, b), timeout=10), (replication(a), replication(b))
    assert wait_for(lambda: b.stats()["connections_active"] >= count, timeout=10)
    replayed(old_entries, "b", NODES["a"], b, "not_for_us")
    replayed(old_from_b, "a", NODES["b"], a, "stale_epoch")
    a.kill()
    wait_role(b, "MASTER")
    assert clients.echo_round(with_resets=True) == (count, 0, 0), replication(b)


# -- 4. failback while a dump longer than the master-down interval arrives ------------------------

RUNS = 10


def watch_failback(node, timeout=30):
    """Samples `node`'s VRRP and replication states until it is MASTER of both instances; it
    must never be MASTER of either while its table is not in sync (VRRP is sampled first: a
    table in sync later was not in sync at the earlier sample either). Returns when, in seconds
    from its first answer (its VRRP running), it was first seen `in sync` and MASTER, and
    whether it was seen holding back a preemption it wanted ("held")."""
    deadline = time.time() + timeout
    up, seen = None, {"held": False}
    while time.time() < deadline:
        vrrp, r = sample(node, "vrrp"), sample_replication(node)
        if vrrp is None or r is None:
            assert node.process.poll() is None, node.log()
            time.sleep(0.005)
            continue
        up = up or time.time()
        masters = {i["name"] for i in vrrp["instances"] if i["state"] == "MASTER"}
        seen["held"] |= any(i.get("preemption_held") for i in vrrp["instances"])
        seen.setdefault(r["state"], time.time() - up)
        assert not masters or r["state"] == "in sync", (masters, r)
        if masters == {"outside", "inside"}:
            seen["MASTER"] = time.time() - up
            return seen
    raise AssertionError(f"not MASTER after {timeout} s: {seen}\n{node.log()}")


class LogTimes:
    """When each line of a log file appeared (polled every few milliseconds, in a thread)."""

    def __init__(self, path):
        self.path, self.lines, self._stop = path, [], False
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self):
        while not self._stop:
            if os.path.exists(self.path):
                with open(self.path) as f:
                    lines = f.read().splitlines()
                now = time.time()
                self.lines += [(now, line) for line in lines[len(self.lines):]]
            time.sleep(0.003)

    def first(self, text):
        """When the first line holding `text` appeared."""
        return next(t for t, line in self.lines if text in line)

    def stop(self):
        self._stop = True
        self._thread.join()


def test_failback_waits_for_a_long_dump_every_time(nat_ha):
    """A (priority 150, preempt) is killed and comes back empty, ten times, while B holds 20,000
    flows: the dump to A (B's sending slowed) takes longer than A's master-down interval, yet A
    takes the VIPs only once in sync, every time (sampled, and in the order of its log); a paced
    download through whichever node is master meanwhile completes intact."""
    ha = nat_ha
    sink_udp_flows(ha)
    source = serve_big(ha, 40)
    a, b = start_pair(ha, services=[FLOW_SERVICE], timeouts=LONG_UDP)
    make_udp_flows(ha, a, FLOWS)
    assert wait_for(lambda: b.stats()["connections_active"] >= FLOWS, timeout=30), replication(b)
    # Here a dump of 20,000 entries takes about 0.1 s: slow B's sending so that A's takes longer
    # than its master-down interval.
    slow_sync_link(ha, "b")
    download = start_download(ha, b, FLOWS)
    down = master_down_interval(0.1, 150)
    dumps_longer = 0
    for run in range(RUNS):
        a.kill()
        wait_role(b, "MASTER")
        a = Node(ha, "a", a.config, wait=False)
        times = LogTimes(a.log_path)
        seen = watch_failback(a)
        wait_role(b, "BACKUP")
        times.stop()
        log = a.log()
        assert log.index("outside: BACKUP -> MASTER") > log.index(": in sync ("), log
        vrrp_up = times.first("outside: INIT -> BACKUP")
        dumped = times.first(": in sync (") - vrrp_up
        print(f"run {run + 1}: A in sync {dumped:.2f} s after its VRRP started (master-down "
              f"interval {down:.2f} s), MASTER "
              f"{times.first('outside: BACKUP -> MASTER') - vrrp_up:.2f} s after; seen holding "
              f"back its preemption: {seen['held']}")
        dumps_longer += dumped > down
        assert fresh_connections(a) >= FLOWS
        assert download.running(), download.lines()[-3:]
        # B's copy of A's new run must be whole before A is killed again.
        assert wait_for(lambda: both_in_sync(a, b), timeout=15), (replication(a), replication(b))
    size, digest, longest = download.finish()
    print(f"paced download through {RUNS} failbacks: {size} bytes, longest wait {longest} ms; "
          f"the dump outlasted the master-down interval in {dumps_longer} of {RUNS} runs")
    assert size == os.path.getsize(source) and digest == sha256(source)


# -- 5. soak: alternating kill -9 failovers ------------------------------------------------------

KILLS = 20


def test_soak_twenty_alternating_kills_lose_no_connection(nat_ha):
    """Twenty kill -9 failovers, the master alternating between A and B (no preemption), each
    killed node started again and in sync before the next kill, under 500 idle connections and
    a paced download all along: every connection echoes after every failover, the download
    arrives intact."""
    ha = nat_ha
    count = 500
    source = serve_big(ha, 40)
    a, b, clients = pair_with_idle_clients(ha, count, preempt=False)
    nodes = {"a": a, "b": b}
    download = start_download(ha, b, count)
    master, standby = "a", "b"
    for kill in range(KILLS):
        assert wait_for(lambda: both_in_sync(*nodes.values()), timeout=15), \
            [replication(n) for n in nodes.values()]
        assert wait_for(lambda: nodes[standby].stats()["connections_active"] > count,
                        timeout=15), (kill, replication(nodes[standby]))
        nodes[master].kill()
        wait_role(nodes[standby], "MASTER")
        assert clients.echo_round(with_resets=True) == (count, 0, 0), \
            (kill, replication(nodes[standby]))
        assert download.running(), download.lines()[-3:]
        nodes[master] = Node(ha, master, nodes[master].config)
        wait_role(nodes[master], "BACKUP")
        master, standby = standby, master
    assert clients.echo_round(with_resets=True) == (count, 0, 0)
    size, digest, longest = download.finish()
    print(f"soak: {KILLS} kill -9 failovers, none of {count} connections lost; paced download "
          f"intact, longest stall {longest} ms")
    assert size == os.path.getsize(source) and digest == sha256(source)


# -- 6. a peer whose wall clock was stepped back -------------------------------------------------

def faketime_env(back_s):
    """The environment of a process whose wall clock is `back_s` seconds behind ours
    (libfaketime's multi-threaded build, Debian package faketime). Only the wall clock: a step
    (NTP, an operator's date) moves CLOCK_REALTIME, never CLOCK_MONOTONIC, and DPDK's timers
    run on the TSC anyway."""
    libraries = glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")
    assert libraries, "libfaketime is not installed: run scripts/setup"
    return dict(os.environ, LD_PRELOAD=libraries[0], FAKETIME=f"-{back_s}",
                FAKETIME_DONT_FAKE_MONOTONIC="1")


def clock_step_back():
    """An hour, or less on a machine up for less than that. libfaketime 0.9.10 moves an
    absolute timerfd deadline by its offset whatever the timer's clock, and Boost.Asio arms a
    timer that is already due as the absolute time 1 ns on CLOCK_MONOTONIC: an offset larger
    than that clock's value holds lb's control loop until the clock catches up (its hellos and
    its stats file stop for seconds at a time)."""
    return int(max(30, min(3600, time.monotonic() - 120)))


# No epoch file can be written there: the epoch comes from the wall clock.
WALL_CLOCK_EPOCH = {"epoch_file": "/nonexistent/epoch"}


def test_a_peer_with_its_clock_stepped_back_still_syncs(nat_ha):
    """B's epoch comes from its wall clock; restarted with the clock an hour back (less on a
    machine up for less than that: clock_step_back), its new run's epoch is lower than its
    previous run's. Both nodes still reach `in sync`, B receives all 400 connections again, and
    they survive A's kill -9."""
    ha = nat_ha
    count = 400
    a, b, clients = pair_with_idle_clients(ha, count, replication_extra=WALL_CLOCK_EPOCH)
    epoch = replication(b)["epoch"]
    b.kill()
    restarted = time.time()
    back = clock_step_back()
    b = start_node(ha, "b", 100, "BACKUP", [ECHO_SERVICE], env=faketime_env(back),
                   replication_extra=WALL_CLOCK_EPOCH)
    assert wait_for(lambda: both_in_sync(a, b), timeout=15), (replication(a), replication(b))
    stepped = replication(b)["epoch"]
    print(f"B's epoch {epoch}, then {stepped} with its clock {back} s back; both in sync "
          f"{time.time() - restarted:.1f} s after B was started again")
    assert stepped < epoch, "the clock step did not lower B's epoch: the test proves nothing"
    assert replication(a)["peer_epoch"] == stepped
    assert wait_for(lambda: b.stats()["connections_active"] >= count, timeout=10), replication(b)
    a.kill()
    wait_role(b, "MASTER")
    assert clients.echo_round(with_resets=True) == (count, 0, 0), replication(b)
