"""Session replication between two real lb processes (issue 12): connections established
through the master survive its kill -9, because the standby installed them as they were made."""

import copy
import os
import re
import time

import pytest

from ha import (NODES, REAL_SERVER, VIP, HaLab, Node, instance, node_config, replication_section,
                wait_state)
from netlab import Lab
from replication_lab import (ECHO_SERVICE, HERE, ClientScript, Download, ManyIdleClients,
                             add_dr_servers, big_file, drop_sync_datagrams, dropped_by_nft,
                             echo_server, replication, sha256, start_node, start_pair)
from topology import wait_for


@pytest.fixture
def nat_ha():
    with Lab("rep") as lab:
        yield HaLab(lab, nat=True)


def test_nat_download_survives_kill_of_the_master(nat_ha):
    ha = nat_ha
    source = big_file(ha, 200)
    a, b = start_pair(ha)
    # The service's real server listens on 8080; serve the file from there too.
    os.symlink(source, os.path.join(ha.lab.tmp, "www-rs1-8080", "big"))
    download = Download(ha, f"http://{VIP}/big")
    assert wait_for(lambda: download.size() > 100 << 20, timeout=60), "the download is stuck"
    assert wait_for(lambda: replication(b)["applied"] >= 1, timeout=5), replication(b)
    killed = time.time()
    a.kill()
    assert download.wait() == 0, open(download.path + ".log").read()
    stall_ms = download.longest_stall_after(killed) * 1000
    print(f"NAT download across kill -9 of the master: longest stall {stall_ms:.0f} ms")
    assert sha256(download.path) == sha256(source)
    assert b.state("outside") == "MASTER"


def test_20000_idle_connections_all_echo_through_the_standby_after_kill(nat_ha):
    ha = nat_ha
    count = 20000
    echo_server(ha)
    a, b = start_pair(ha, services=[ECHO_SERVICE])
    clients = ManyIdleClients(ha, count)
    assert clients.ready() == count
    assert clients.echo_round() == (count, 0)
    # Every one of them is on B before the kill.
    assert wait_for(lambda: b.stats()["connections_active"] >= count, timeout=20), \
        (b.stats()["connections_active"], replication(b))
    a.kill()
    for name in ("outside", "inside"):
        assert wait_state(b, "MASTER", timeout=5, name=name)
    assert clients.echo_round() == (count, 0), replication(b)


FTP_SERVICE = {"name": "ftp", "vip": VIP, "port": 21, "forwarding": "nat",
               "real_servers": [{"address": REAL_SERVER}]}


class FtpSession(ClientScript):
    """ftp_session.py in the client's namespace."""

    def __init__(self, ha, mode, rate=20 << 20):
        self.out = os.path.join(ha.lab.tmp, f"ftp-{mode}-{time.time_ns()}")
        super().__init__(ha, "ftp_session.py", VIP, mode, "big", "whoami", self.out, rate,
                         log_path=self.out + ".log")

    def outcome(self, timeout=120):
        self.process.wait(timeout=timeout)
        return {x.split()[0]: x.split(maxsplit=1)[1:] for x in self.lines()
                if not x.startswith("progress")}


@pytest.mark.parametrize("mode", ["passive", "active"])
def test_ftp_nat_transfer_and_its_session_survive_kill_of_the_master(nat_ha, mode):
    ha = nat_ha
    import ftp
    source = big_file(ha, 200)
    ftp.start_vsftpd(ha.lab, ha.server, "rs1", {"big": source})
    a, b = start_pair(ha, services=[FTP_SERVICE])
    session = FtpSession(ha, mode)
    assert wait_for(lambda: session.received() > 100 << 20, timeout=60), session.lines()
    killed = time.time()
    a.kill()
    result = session.outcome()
    assert "done" in result, (result, replication(b))
    size, digest = result["retr"][0].split()
    assert int(size) == os.path.getsize(source) and digest == sha256(source)
    assert int(result["list"][0]) >= 2  # big, whoami and the marker file
    assert result["small"] == ["rs1"]
    print(f"FTP {mode} through NAT across kill -9 of the master: done "
          f"{time.time() - killed:.1f} s after the kill")


def test_bulk_sync_gives_a_late_standby_every_connection(nat_ha):
    ha = nat_ha
    count = 20000
    echo_server(ha)
    a = start_node(ha, "a", 150, "MASTER", [ECHO_SERVICE])
    clients = ManyIdleClients(ha, count)
    assert clients.ready() == count
    started = time.time()
    b = start_node(ha, "b", 100, "BACKUP", [ECHO_SERVICE])
    assert wait_for(lambda: replication(b)["state"] == "in sync", timeout=60), replication(b)
    print(f"bulk sync: B in sync with A's {count} connections "
          f"{time.time() - started:.2f} s after it was started")
    assert b.stats()["connections_active"] >= count, replication(b)
    assert replication(a)["bulk_dumps_sent"] >= 1
    a.kill()
    for name in ("outside", "inside"):
        assert wait_state(b, "MASTER", timeout=5, name=name)
    assert clients.echo_round() == (count, 0), replication(b)


def test_ten_percent_sync_loss_is_repaired(nat_ha):
    ha = nat_ha
    count = 20000
    echo_server(ha)
    a, b = start_pair(ha, services=[ECHO_SERVICE])
    for node in ("a", "b"):
        drop_sync_datagrams(ha, node, 10)
    clients = ManyIdleClients(ha, count)
    assert clients.ready() == count
    assert wait_for(lambda: b.stats()["connections_active"] >= count, timeout=60), \
        (b.stats()["connections_active"], replication(a), replication(b))
    lost = dropped_by_nft(ha, "b")
    resent = replication(a)["entries_resent"]
    print(f"10% loss: {lost} datagrams to B dropped, {resent} entries resent; B holds all {count}")
    assert lost > 0 and resent > 0
    a.kill()
    for name in ("outside", "inside"):
        assert wait_state(b, "MASTER", timeout=5, name=name)
    assert clients.echo_round() == (count, 0), replication(b)


def link_of(view):
    """sync_injector.py's view of the link: the peer's run, ours, and the peer's last sequence
    we have."""
    return [str(view[k]) for k in ("peer_epoch", "epoch", "received_through")]


BAD_INPUT = ["garbage", "truncated", "oversized", "unknown_version", "wrong_cluster", "bad_mac",
             "malformed_entry", "replayed", "stale_epoch", "reflected", "wrong_sender",
             "not_for_us", "not_for_us_earlier_run"]
# What each case is counted as: the codec's reason, or the protocol's.
COUNTED_AS = {"garbage": "bad_magic", "not_for_us_earlier_run": "not_for_us"}


def test_bad_sync_datagrams_are_counted_by_reason_and_change_nothing(nat_ha):
    ha = nat_ha
    ha.add_peer()
    echo_server(ha)
    a, b = start_pair(ha, services=[ECHO_SERVICE])
    clients = ManyIdleClients(ha, 400)
    assert clients.ready() == 400
    assert wait_for(lambda: b.stats()["connections_active"] >= 400, timeout=20)
    before = replication(b)
    held = b.stats()["connections_active"]
    key = replication_section(ha, "b")["key_file"]
    for case in BAD_INPUT:
        # From A's namespace (A's address, another port): B reads datagrams from its peers'
        # addresses only; from anywhere else they are unknown senders, never decoded.
        ha.lab.run(ha.node_ns["a"], "/usr/bin/python3", os.path.join(HERE, "sync_injector.py"),
                   NODES["b"], "8848", key, *link_of(before), case)
        reason = COUNTED_AS.get(case, case)
        # At least once: a resend of a datagram B already has also counts as replayed.
        assert wait_for(lambda: replication(b)["dropped"][reason] >=
                        before["dropped"][reason] + 1, timeout=5), (case, replication(b))
    # The same from an address that is not B's peer: refused unread, counted as such.
    dropped = replication(b)["dropped"]
    ha.lab.run(ha.peer_ns, "/usr/bin/python3", os.path.join(HERE, "sync_injector.py"),
               NODES["b"], "8848", key, *link_of(before), "replayed", "bad_mac")
    assert wait_for(lambda: replication(b)["unknown_senders"] >= 2, timeout=5), replication(b)
    assert replication(b)["dropped"]["bad_mac"] == dropped["bad_mac"]  # never decoded
    after = replication(b)
    assert after["state"] == "in sync" and after["peer_epoch"] == before["peer_epoch"]
    assert after["deleted"] == before["deleted"]  # (applied may grow by A's own resends)
    assert b.stats()["connections_active"] == held
    # Nothing was lost: B still takes over with every connection.
    a.kill()
    for name in ("outside", "inside"):
        assert wait_state(b, "MASTER", timeout=5, name=name)
    assert clients.echo_round() == (400, 0)


def test_failback_waits_for_bulk_sync_then_loses_nothing(nat_ha):
    ha = nat_ha
    count = 2000
    echo_server(ha)
    a, b = start_pair(ha, services=[ECHO_SERVICE])
    clients = ManyIdleClients(ha, count)
    assert clients.ready() == count
    assert wait_for(lambda: b.stats()["connections_active"] >= count, timeout=20)
    a.kill()
    for name in ("outside", "inside"):
        assert wait_state(b, "MASTER", timeout=5, name=name)
    assert clients.echo_round() == (count, 0)
    # A comes back empty, with the higher priority and preempt: it must first receive B's
    # table, then take the VIPs back.
    a = Node(ha, "a", a.config)
    for name in ("outside", "inside"):
        assert wait_state(a, "MASTER", timeout=15, name=name), (a.log(), replication(a))
        assert wait_state(b, "BACKUP", timeout=5, name=name)
    log = a.log()
    assert "lb: vrrp: not preempting: session table not in sync" in log, log
    assert log.index("preemption allowed again") > log.index(": in sync ("), log
    assert log.index("outside: BACKUP -> MASTER") > log.index(": in sync ("), log
    assert a.stats()["connections_active"] >= count
    assert clients.echo_round() == (count, 0), (replication(a), replication(b))


# -- direct routing: real servers on the clients' segment, the VIPs on their loopback ----------

DR_SERVERS = {"rs1": "198.51.100.21", "rs2": "198.51.100.22"}
VIP2 = "198.51.100.101"


@pytest.fixture
def dr_ha():
    with Lab("repdr") as lab:
        ha = HaLab(lab)
        add_dr_servers(ha, DR_SERVERS, (VIP, VIP2))
        yield ha


def dr_service(name, vip, persistence=False, **fields):
    s = {"name": name, "vip": vip, "forwarding": "dr", "scheduler": "wlc",
         "real_servers": [{"address": a} for a in DR_SERVERS.values()]}
    if persistence:
        s["persistence"] = {"timeout": "300s"}
    s.update(fields)
    return s


def dr_node(ha, node, instances, services, role=None):
    config = node_config(ha, node, instances)
    config["services"] = services
    config["replication"] = replication_section(ha, node)
    config["tables"]["connections"] = 65536
    n = Node(ha, node, config)
    for i in instances:
        if role or i.get("expect"):
            assert wait_state(n, role or i["expect"], timeout=5, name=i["name"]), n.log()
    return n


def whoami(ha, vip):
    r = ha.lab.run(ha.client, "curl", "-sS", "--max-time", "5", f"http://{vip}/whoami",
                   check=False, timeout=30)
    return r.stdout.strip()


def test_dr_persistent_download_survives_kill_and_keeps_its_server(dr_ha):
    ha = dr_ha
    source = big_file(ha, 200)
    for name, ns in ha.dr_servers.items():
        ha.lab.http_server(ns, name, 80, files={"big": source})
    services = [dr_service("web", VIP, persistence=True, port=80)]
    a = dr_node(ha, "a", [instance(150)], services, "MASTER")
    b = dr_node(ha, "b", [instance(100)], services, "BACKUP")
    for n in (a, b):
        assert wait_for(lambda: replication(n)["state"] == "in sync", timeout=10), replication(n)
    server = whoami(ha, VIP)
    assert server in DR_SERVERS
    download = Download(ha, f"http://{VIP}/big")
    assert wait_for(lambda: download.size() > 100 << 20, timeout=60), "the download is stuck"
    killed = time.time()
    a.kill()
    assert download.wait() == 0, open(download.path + ".log").read()
    stall_ms = download.longest_stall_after(killed) * 1000
    print(f"DR (wlc, persistence) download across kill -9 of the master: longest stall "
          f"{stall_ms:.0f} ms")
    assert sha256(download.path) == sha256(source)
    assert wait_state(b, "MASTER", timeout=1)
    # The client's persistence template came across too: a new connection, same server.
    assert [whoami(ha, VIP) for _ in range(5)] == [server] * 5


def echo_servers_dr(ha):
    for name, ns in ha.dr_servers.items():
        ha.lab.spawn(ns, "/usr/bin/python3", os.path.join(HERE, "tcp_echo.py"), "7",
                     log=os.path.join(ha.lab.tmp, f"tcp-echo-{name}.log"))
        ha.lab.wait_for_port(ns, 7)


@pytest.mark.parametrize("killed", ["a", "b"])
def test_active_active_kill_either_loses_no_connection_of_either_vip(dr_ha, killed):
    """A is master of VIP 1, B of VIP 2; each replicates what it forwards to the other."""
    ha = dr_ha
    echo_servers_dr(ha)

    def instances(p1, p2):
        one = instance(p1)
        one.update(name="one")
        two = instance(p2, virtual_router_id=53, virtual_addresses=[VIP2])
        two.update(name="two")
        return [one, two]

    services = [dr_service("one", VIP, port=7), dr_service("two", VIP2, port=7)]
    nodes = {"a": dr_node(ha, "a", instances(150, 100), services)}
    nodes["b"] = dr_node(ha, "b", instances(100, 150), services)
    assert wait_state(nodes["a"], "MASTER", name="one") and wait_state(nodes["b"], "MASTER",
                                                                       name="two")
    for n in nodes.values():
        assert wait_for(lambda: replication(n)["state"] == "in sync", timeout=10), replication(n)
    count = 2000
    clients = {vip: ManyIdleClients(ha, count, host=vip) for vip in (VIP, VIP2)}
    for c in clients.values():
        assert c.ready() == count
    survivor = nodes["b" if killed == "a" else "a"]
    assert wait_for(lambda: survivor.stats()["connections_active"] >= 2 * count, timeout=20), \
        replication(survivor)
    nodes[killed].kill()
    for name in ("one", "two"):
        assert wait_state(survivor, "MASTER", timeout=5, name=name)
    for vip, c in clients.items():
        assert c.echo_round() == (count, 0), (vip, replication(survivor))


@pytest.mark.parametrize("mode", ["passive", "active"])
def test_ftp_dr_port_group_transfer_survives_kill_of_the_master(dr_ha, mode):
    import ftp
    ha = dr_ha
    source = big_file(ha, 200)
    for name, ns in ha.dr_servers.items():
        ftp.start_vsftpd(ha.lab, ns, name, {"big": source}, pasv_address=VIP)
    services = [dr_service("ftp", VIP, persistence=True, ports=[21, 20, "10000-10100"])]
    a = dr_node(ha, "a", [instance(150)], services, "MASTER")
    b = dr_node(ha, "b", [instance(100)], services, "BACKUP")
    for n in (a, b):
        assert wait_for(lambda: replication(n)["state"] == "in sync", timeout=10), replication(n)
    session = FtpSession(ha, mode)
    assert wait_for(lambda: session.received() > 100 << 20, timeout=60), session.lines()
    a.kill()
    result = session.outcome()
    assert "done" in result, (result, replication(b))
    size, digest = result["retr"][0].split()
    assert int(size) == os.path.getsize(source) and digest == sha256(source)
    assert int(result["list"][0]) >= 2
    assert result["small"][0] in DR_SERVERS


def test_a_flow_the_new_master_never_heard_of_is_reset_at_once(nat_ha):
    """Connections made while B heard nothing from A (its replication input dropped): after the
    takeover B, whose table was complete until then, answers their next segment with a reset
    rather than leaving the clients to retransmit for minutes."""
    ha = nat_ha
    echo_server(ha)
    a, b = start_pair(ha, services=[ECHO_SERVICE])
    drop_sync_datagrams(ha, "b", 100)
    assert wait_for(lambda: replication(b)["state"] == "peer lost", timeout=5)
    assert replication(b)["reset_unknown_flows"]
    clients = ManyIdleClients(ha, 40)
    assert clients.ready() == 40
    a.kill()
    for name in ("outside", "inside"):
        assert wait_state(b, "MASTER", timeout=5, name=name)
    assert clients.echo_round(with_resets=True) == (0, 0, 40)


def test_a_configuration_mismatch_is_reported_once_and_foreign_entries_unbound(nat_ha):
    """B lacks A's echo service: the digests differ (said once in the log, in lbctl and the
    metrics), and the connections of that service are counted as unbound on B, not installed."""
    ha = nat_ha
    echo_server(ha)
    a = start_node(ha, "a", 150, "MASTER", [ECHO_SERVICE])
    b = start_node(ha, "b", 100, "BACKUP", metrics="127.0.0.1:9100")
    assert wait_for(lambda: replication(b)["state"] == "in sync", timeout=10), replication(b)
    assert not replication(b)["config_matches"] and not replication(a)["config_matches"]
    clients = ManyIdleClients(ha, 40)
    assert clients.ready() == 40
    assert wait_for(lambda: replication(b)["unbound"] >= 40, timeout=10), replication(b)
    assert b.stats()["connections_active"] == 0
    warning = "the peer's configuration differs from ours"
    assert b.log().count(warning) == 1, b.log()
    code, out, _ = b.ctl("replication")
    # The text form: one "key value" line per field, whatever the column width.
    assert code == 0 and re.search(r"^\s*config_matches\s+false$", out, re.M), out
    metrics = ha.lab.run(ha.node_ns["b"], "curl", "-sS", "http://127.0.0.1:9100/metrics").stdout
    assert f'lb_replication_config_matches{{peer="{NODES["a"]}:8848"}} 0' in metrics, metrics
    assert f'lb_replication_state{{peer="{NODES["a"]}:8848"}} 2' in metrics
    unbound = re.search(r'lb_replication_entries_total\{peer="[0-9.:]+",event="unbound"\} (\d+)',
                        metrics)
    assert unbound and int(unbound.group(1)) >= 40, metrics


def test_sync_after_leaves_short_lived_connections_out(nat_ha):
    """replication.sync_after: 2s: connections that end sooner are never sent; the ones that
    live on are, once old enough."""
    ha = nat_ha
    echo_server(ha)
    a = start_node(ha, "a", 150, "MASTER", [ECHO_SERVICE], sync_after="2s")
    b = start_node(ha, "b", 100, "BACKUP", [ECHO_SERVICE], sync_after="2s")
    for n in (a, b):
        assert wait_for(lambda: replication(n)["state"] == "in sync", timeout=10), replication(n)
    sent = replication(a)["entries_sent"]
    for _ in range(10):
        r = ha.lab.run(ha.client, "curl", "-sS", "--max-time", "5", f"http://{VIP}/whoami",
                       check=False, timeout=30)
        assert r.stdout.strip() == "rs1", r.stderr
    clients = ManyIdleClients(ha, 40)
    assert clients.ready() == 40
    assert wait_for(lambda: b.stats()["connections_active"] >= 40, timeout=15), replication(b)
    time.sleep(3)  # past the short connections' sync_after as well
    # The 40 idle connections went over; the 10 short ones (closed within 2 s) did not.
    assert replication(a)["entries_sent"] - sent == 40, replication(a)
    assert b.stats()["connections_active"] == 40


def test_key_rotation_by_three_rounds_of_reloads_keeps_the_pair_in_sync(nat_ha):
    """README, "Key rotation": three rounds of `lbctl reload`, A then B in each; the pair stays
    in sync, nothing is dropped as bad_mac, connections made under the new key alone reach B,
    and B still takes over with every connection."""
    ha = nat_ha
    echo_server(ha)
    a, b = start_pair(ha, services=[ECHO_SERVICE])
    clients = ManyIdleClients(ha, 200)
    assert clients.ready() == 200
    assert wait_for(lambda: b.stats()["connections_active"] >= 200, timeout=20), replication(b)
    old = a.config["replication"]["key_file"]
    new = os.path.join(ha.lab.tmp, "sync.key.new")
    with open(new, "w") as f:
        f.write(os.urandom(32).hex() + "\n")
    os.chmod(new, 0o600)
    bad_mac = {n: replication(n)["dropped"]["bad_mac"] for n in (a, b)}
    rounds = [{"key_file": old, "previous_key_file": new},
              {"key_file": new, "previous_key_file": old},
              {"key_file": new}]
    for keys in rounds:
        for n in (a, b):
            said = n.log().count("replication: keys reloaded")
            config = copy.deepcopy(n.config)
            config["replication"].pop("previous_key_file", None)
            config["replication"].update(keys)
            n.config = config
            n.rewrite_config(config)
            code, out, err = n.ctl("reload")
            assert code == 0 and "needs restart" not in out, (out, err)
            assert wait_for(lambda: n.log().count("replication: keys reloaded") == said + 1,
                            timeout=5), n.log()
        for n in (a, b):
            assert replication(n)["state"] == "in sync", replication(n)
    # Under the new key alone: new connections still reach B.
    more = ManyIdleClients(ha, 100)
    assert more.ready() == 100
    assert wait_for(lambda: b.stats()["connections_active"] >= 300, timeout=20), replication(b)
    for n in (a, b):
        assert replication(n)["dropped"]["bad_mac"] == bad_mac[n], replication(n)
    a.kill()
    for name in ("outside", "inside"):
        assert wait_state(b, "MASTER", timeout=5, name=name)
    assert clients.echo_round() == (200, 0)
    assert more.echo_round() == (100, 0)
