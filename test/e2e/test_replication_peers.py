"""Replication to a list of peers (issue 14): three real lb nodes, each with
`replication.peers` naming the two others, in one VRRP group (A master, then B, then C). What A
forwards is on B and C; a DR download with persistence and `wlc` started through A finishes
intact through kill -9 of A and then of B; a node that restarts gets the table back from both
others; a sender outside the list is refused and counted."""

import os
import time

import pytest

from ha import PEER, VIP, HaLab, Node, instance, node_config, replication_section, wait_state
from netlab import Lab
from replication_lab import (HERE, Download, ManyIdleClients, add_dr_servers, big_file,
                             replication_all, replication_peer, sha256)
from test_replication import DR_SERVERS, echo_servers_dr, link_of, whoami
from topology import wait_for

# PEER (.4) stays free for the injector: a node with the key that nobody lists.
THREE = {"a": "198.51.100.2", "b": "198.51.100.3", "c": "198.51.100.5"}
PRIORITY = {"a": 150, "b": 100, "c": 50}


@pytest.fixture
def trio():
    with Lab("rp3") as lab:
        ha = HaLab(lab, nodes=THREE)
        add_dr_servers(ha, DR_SERVERS, (VIP,))
        yield ha


def services(port, persistence=False):
    s = {"name": "web", "vip": VIP, "port": port, "forwarding": "dr", "scheduler": "wlc",
         "real_servers": [{"address": a} for a in DR_SERVERS.values()]}
    if persistence:
        s["persistence"] = {"timeout": "300s"}
    return [s]


def start(ha, node, svcs, role):
    config = node_config(ha, node, [instance(PRIORITY[node])])
    config["services"] = svcs
    rep = replication_section(ha, node)
    del rep["peer"]
    rep["peers"] = [address for name, address in THREE.items() if name != node]
    config["replication"] = rep
    config["tables"]["connections"] = 65536
    n = Node(ha, node, config)
    assert wait_state(n, role, timeout=5), n.log()
    return n


def all_in_sync(n):
    r = replication_all(n)
    return r["in_sync"] and all(p["state"] == "in sync" for p in r["peers"])


def start_trio(ha, svcs):
    nodes = {"a": start(ha, "a", svcs, "MASTER"), "b": start(ha, "b", svcs, "BACKUP"),
             "c": start(ha, "c", svcs, "BACKUP")}
    for n in nodes.values():
        assert wait_for(lambda: all_in_sync(n), timeout=10), replication_all(n)
    return nodes


def test_download_through_a_survives_kill_of_a_then_of_b(trio):
    ha = trio
    source = big_file(ha, 200)
    for name, ns in ha.dr_servers.items():
        ha.lab.http_server(ns, name, 80, files={"big": source})
    nodes = start_trio(ha, services(80, persistence=True))
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    server = whoami(ha, VIP)
    assert server in DR_SERVERS
    download = Download(ha, f"http://{VIP}/big")
    assert wait_for(lambda: download.size() > 60 << 20, timeout=60), "the download is stuck"
    # A sent it to both: B and C each applied A's entries (the connection, the template).
    for n in (b, c):
        assert replication_peer(n, THREE["a"])["applied"] >= 2, replication_all(n)
        assert n.stats()["connections_active"] >= 1
    killed = time.time()
    a.kill()
    assert wait_state(b, "MASTER", timeout=2), b.log()
    assert wait_for(lambda: download.size() > 130 << 20, timeout=60), "stuck after A's death"
    # C now has B's newer copy as well (B forwarded the flow since).
    b.kill()
    assert wait_state(c, "MASTER", timeout=2), c.log()
    assert download.wait() == 0, open(download.path + ".log").read()
    stall_ms = download.longest_stall_after(killed) * 1000
    print(f"DR (wlc, persistence) download across kill -9 of A, then of B: longest stall "
          f"{stall_ms:.0f} ms")
    assert sha256(download.path) == sha256(source)
    # The client's persistence template reached C from A: a new connection, same server.
    assert [whoami(ha, VIP) for _ in range(3)] == [server] * 3


def test_restarted_node_gets_both_tables_and_a_stranger_is_refused(trio):
    ha = trio
    echo_servers_dr(ha)
    svcs = services(7)
    nodes = start_trio(ha, svcs)
    a, b = nodes["a"], nodes["b"]
    count = 400
    clients = ManyIdleClients(ha, count)
    assert clients.ready() == count
    for n in (b, nodes["c"]):
        assert wait_for(lambda: n.stats()["connections_active"] >= count, timeout=20), \
            replication_all(n)

    # C restarts (kill -9, then a new run): both A and B send it their whole table.
    nodes["c"].kill()
    assert wait_for(lambda: replication_peer(a, THREE["c"])["state"] == "peer lost", timeout=5)
    assert replication_all(a)["in_sync"]  # B still is: a dead C holds nobody back
    dumps = {n.node: replication_peer(n, THREE["c"])["bulk_dumps_sent"] for n in (a, b)}
    c = start(ha, "c", svcs, "BACKUP")
    assert wait_for(lambda: all_in_sync(c), timeout=10), replication_all(c)
    for n in (a, b):
        assert wait_for(lambda: replication_peer(n, THREE["c"])["bulk_dumps_sent"] ==
                        dumps[n.node] + 1, timeout=5), replication_all(n)
        assert replication_peer(c, THREE[n.node])["entries_received"] >= count
    assert c.stats()["connections_active"] >= count

    # A node that has the key but is in nobody's list: C reads none of it.
    before = replication_all(c)
    key = replication_section(ha, "c")["key_file"]
    ha.add_peer()
    link = replication_peer(c, THREE["a"])
    ha.lab.run(ha.peer_ns, "/usr/bin/python3", os.path.join(HERE, "sync_injector.py"),
               THREE["c"], "8848", key, *link_of(link), "replayed", "bad_mac", "stale_epoch")
    assert wait_for(lambda: replication_all(c)["unknown_senders"] >= before["unknown_senders"] + 3,
                    timeout=5), replication_all(c)
    after = replication_all(c)
    for old, new in zip(before["peers"], after["peers"]):
        assert new["dropped"]["bad_mac"] == old["dropped"]["bad_mac"]
        assert new["dropped"]["stale_epoch"] == old["dropped"]["stale_epoch"]
    assert PEER not in str(after["peers"])

    # What C was given is complete: A and B die, C takes over, every connection answers.
    a.kill()
    b.kill()
    assert wait_state(c, "MASTER", timeout=3), c.log()
    assert clients.echo_round() == (count, 0), replication_all(c)
