"""Helpers for session replication on the HA lab (ha.py): a NAT pair of lb nodes replicating
to each other, downloads watched as they grow, big files and their digests. Used by
test_replication.py and by the demo."""

import hashlib
import json
import os
import threading
import time

from ha import Node, nat_pair_instances, node_config, replication_section, wait_state
from topology import wait_for


def replication_all(node):
    """`lbctl --json replication`: the node's fields and `peers`, one object per peer."""
    code, out, err = node.ctl("--json", "replication")
    assert code == 0, err
    return json.loads(out)


def replication(node):
    """A pair's view: the node's fields and its one peer's in one dictionary."""
    r = replication_all(node)
    peers = r.pop("peers")
    assert len(peers) == 1, peers
    r.update(peers[0])
    return r


def replication_peer(node, address):
    """The node's fields and those of its peer at `address`."""
    r = replication_all(node)
    peers = {p["peer"].split(":")[0]: p for p in r.pop("peers")}
    r.update(peers[address])
    return r


def start_node(ha, node, priority, role, services=(), metrics=None, sync_after=None, **extra):
    """lb `node` of the NAT pair with replication, waited for until `role` (MASTER or BACKUP);
    `metrics`: ADDRESS:PORT of its Prometheus endpoint (in its namespace)."""
    instances, group = nat_pair_instances(priority, **extra)
    config = node_config(ha, node, instances, group)
    if metrics:
        config["stats"]["listen"] = metrics
    config["replication"] = replication_section(ha, node)
    if sync_after:
        config["replication"]["sync_after"] = sync_after
    config["services"] += list(services)
    config["tables"]["connections"] = 65536
    n = Node(ha, node, config)
    for name in ("outside", "inside"):
        assert wait_state(n, role, timeout=5, name=name), n.log()
    return n


def start_pair(ha, a_priority=150, b_priority=100, services=(), **extra):
    """A master, B backup, both in sync with each other."""
    a = start_node(ha, "a", a_priority, "MASTER", services, **extra)
    b = start_node(ha, "b", b_priority, "BACKUP", services, **extra)
    for n in (a, b):
        assert wait_for(lambda: replication(n)["state"] == "in sync", timeout=10), replication(n)
    return a, b


def add_dr_servers(ha, servers, vips):
    """DR real servers on ext (name -> address), each with the VIPs on its loopback and quiet
    about them in ARP; `ha.dr_servers`: name -> namespace."""
    ha.dr_servers = {}
    for name, address in servers.items():
        ns = ha.lab.add_namespace(name)
        ha.lab.run(ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1")
        ha.lab.run(ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_announce=2")
        ha.lab.link(ns, "eth0", "ext", f"{address}/24")
        for vip in vips:
            ha.lab.run(ns, "ip", "addr", "add", f"{vip}/32", "dev", "lo")
        ha.dr_servers[name] = ns


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Download:
    """curl of `url` into a file, in the background, with the file's growth sampled."""

    def __init__(self, ha, url, rate="20M"):
        self.ha = ha
        self.path = os.path.join(ha.lab.tmp, f"download-{time.time_ns()}")
        self.process = ha.lab.spawn(ha.client, "curl", "-sS", "--limit-rate", rate,
                                    "--max-time", "60", "-o", self.path, url,
                                    log=self.path + ".log")
        self.samples = []
        self._stop = False
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._stop:
            size = os.path.getsize(self.path) if os.path.exists(self.path) else 0
            self.samples.append((time.time(), size))
            time.sleep(0.005)

    def size(self):
        return os.path.getsize(self.path) if os.path.exists(self.path) else 0

    def wait(self, timeout=150):
        code = self.process.wait(timeout=timeout)
        self._stop = True
        self._thread.join()
        return code

    def longest_stall_after(self, since):
        """The longest time the file did not grow, from `since` on, in seconds."""
        longest, last_growth, last_size = 0.0, since, None
        for t, size in self.samples:
            if t < since:
                last_size = size
                continue
            if last_size is None or size > last_size:
                longest = max(longest, t - last_growth)
                last_growth, last_size = t, size
        return longest


def big_file(ha, megabytes):
    path = os.path.join(ha.lab.tmp, f"big-{megabytes}")
    with open(path, "wb") as f:
        for _ in range(megabytes):
            f.write(os.urandom(1 << 20))
    return path
