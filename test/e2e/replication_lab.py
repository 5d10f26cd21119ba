"""Helpers for session replication on the HA lab (ha.py): a NAT pair of lb nodes replicating
to each other, downloads watched as they grow, big files and their digests. Used by
test_replication.py, test_replication_faults.py and by the demo."""

import hashlib
import json
import os
import subprocess
import threading
import time

from ha import (REAL_SERVER, VIP, Node, nat_pair_instances, node_config, replication_section,
                wait_state)
from topology import wait_for

HERE = os.path.dirname(os.path.abspath(__file__))


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


def pair_node_config(ha, node, priority, services=(), metrics=None, sync_after=None,
                     timeouts=None, replication_extra=None, **extra):
    """The configuration of `node` of the NAT pair with replication; `metrics`: ADDRESS:PORT of
    its Prometheus endpoint (in its namespace); `timeouts`: the `timeouts` section;
    `replication_extra`: more keys of the `replication` section; `extra`: of the VRRP
    instances."""
    instances, group = nat_pair_instances(priority, **extra)
    config = node_config(ha, node, instances, group)
    if metrics:
        config["stats"]["listen"] = metrics
    config["replication"] = replication_section(ha, node)
    if sync_after:
        config["replication"]["sync_after"] = sync_after
    config["replication"].update(replication_extra or {})
    if timeouts:
        config["timeouts"] = timeouts
    config["services"] += list(services)
    config["tables"]["connections"] = 65536
    return config


def wait_role(node, role, timeout=5):
    """Both instances of the NAT pair (`outside`, `inside`) in `role`."""
    for name in ("outside", "inside"):
        assert wait_state(node, role, timeout=timeout, name=name), (name, node.log())


def start_node(ha, node, priority, role, services=(), env=None, **options):
    """lb `node` of the NAT pair with replication (pair_node_config's `options`), waited for
    until `role` (MASTER or BACKUP); `env`: its environment."""
    n = Node(ha, node, pair_node_config(ha, node, priority, services, **options), env=env)
    wait_role(n, role)
    return n


def start_pair(ha, a_priority=150, b_priority=100, services=(), **extra):
    """A master, B backup, both in sync with each other."""
    a = start_node(ha, "a", a_priority, "MASTER", services, **extra)
    b = start_node(ha, "b", b_priority, "BACKUP", services, **extra)
    for n in (a, b):
        assert wait_for(lambda: replication(n)["state"] == "in sync", timeout=10), replication(n)
    return a, b


def pair_with_idle_clients(ha, count, **options):
    """The pair (start_pair's `options`) with the echo service, and `count` idle connections
    through A that B holds too: (a, b, clients)."""
    echo_server(ha)
    a, b = start_pair(ha, services=[ECHO_SERVICE], **options)
    clients = ManyIdleClients(ha, count)
    assert clients.ready() == count
    assert wait_for(lambda: b.stats()["connections_active"] >= count, timeout=20), replication(b)
    return a, b, clients


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


ECHO_SERVICE = {"name": "echo", "vip": VIP, "port": 7, "forwarding": "nat",
                "real_servers": [{"address": REAL_SERVER, "port": 7007}]}

# Processes the connections are spread over: a process may hold few descriptors here.
SPREAD = 4


class ClientScript:
    """A script of this folder running in the client's namespace, its output in a log: the lines
    so far, and the last "progress BYTES"."""

    def __init__(self, ha, script, *args, log_path=None, stdin=None):
        self.log_path = log_path or os.path.join(ha.lab.tmp,
                                                 f"{script[:-3]}-{time.time_ns()}.log")
        self.process = ha.lab.spawn(ha.client, "/usr/bin/python3", os.path.join(HERE, script),
                                    *(str(a) for a in args), log=self.log_path, stdin=stdin)

    def lines(self):
        with open(self.log_path) as f:
            return f.read().splitlines()

    def received(self):
        progress = [int(x.split()[1]) for x in self.lines() if x.startswith("progress")]
        return progress[-1] if progress else 0

    def wait_line(self, prefix, after=0, timeout=120):
        """The first line from the `after`th on that starts with `prefix`, once there is one."""
        assert wait_for(lambda: any(x.startswith(prefix) for x in self.lines()[after:]),
                        timeout=timeout), self.lines()
        return [x for x in self.lines()[after:] if x.startswith(prefix)][0]


class IdleClients(ClientScript):
    """idle_clients.py in the client's namespace: COUNT connections to the VIP's echo port."""

    def __init__(self, ha, count, port=7, host=VIP):
        super().__init__(ha, "idle_clients.py", host, port, count, stdin=subprocess.PIPE)


class ManyIdleClients:
    """COUNT idle connections from SPREAD processes; rounds are summed over all of them."""

    def __init__(self, ha, count, port=7, host=VIP):
        self.count = count
        self.host = host
        self.parts = [IdleClients(ha, count // SPREAD, port, host) for _ in range(SPREAD)]

    def ready(self):
        lines = [p.wait_line("ready") for p in self.parts]
        for line in lines:
            if "failed" in line:
                print(f"idle clients to {self.host}: {line}")  # why, in the test's report
        return sum(int(line.split()[1]) for line in lines)

    def echo_round(self, with_resets=False):
        """(echoed, failed), failed counting resets unless `with_resets`: (ok, failed, reset)."""
        seen = [len(p.lines()) for p in self.parts]
        for p in self.parts:
            p.process.stdin.write(b"\n")
            p.process.stdin.flush()
        ok = failed = reset = 0
        for p, after in zip(self.parts, seen):
            words = dict(w.split("=") for w in p.wait_line("round", after=after).split()[1:])
            ok, failed = ok + int(words["ok"]), failed + int(words["failed"])
            reset += int(words["reset"])
        return (ok, failed, reset) if with_resets else (ok, failed + reset)


def echo_server(ha):
    for i in range(SPREAD):
        ha.lab.spawn(ha.server, "/usr/bin/python3", os.path.join(HERE, "tcp_echo.py"), "7007",
                     log=os.path.join(ha.lab.tmp, f"tcp-echo-{i}.log"))
    ha.lab.wait_for_port(ha.server, 7007)



def drop_sync_datagrams(ha, node, percent, port=8848):
    """nft in `node`'s namespace: `percent` of the replication datagrams it receives, at random."""
    ns = ha.node_ns[node]
    ha.lab.run(ns, "nft", "add table inet lossy")
    ha.lab.run(ns, "nft", "add chain inet lossy input { type filter hook input priority 0; }")
    which = "" if percent >= 100 else f"numgen random mod 100 < {percent} "
    ha.lab.run(ns, "nft", f"add rule inet lossy input udp dport {port} {which}counter drop")


def dropped_by_nft(ha, node):
    out = ha.lab.run(ha.node_ns[node], "nft", "list", "table", "inet", "lossy").stdout
    return int(out.split("counter packets")[1].split()[0])


def block_sync(ha, node, port=8848):
    """nft in `node`'s namespace: every replication datagram it would send or receive is dropped;
    VRRP (not UDP) still passes. heal_sync() lifts it."""
    ns = ha.node_ns[node]
    ha.lab.run(ns, "nft", "add table inet syncblock")
    for hook in ("input", "output"):
        ha.lab.run(ns, "nft", f"add chain inet syncblock {hook} "
                              f"{{ type filter hook {hook} priority 0; }}")
        ha.lab.run(ns, "nft", f"add rule inet syncblock {hook} udp dport {port} counter drop")


def heal_sync(ha, node):
    ha.lab.run(ha.node_ns[node], "nft", "delete table inet syncblock")


def slow_sync_link(ha, node, rate="8mbit"):
    """Everything `node`'s kernel sends on ext (replication: VRRP and the dataplane do not pass
    there) shaped to `rate` by a token bucket on lb's tap: datagrams wait, none is dropped. A
    dump from `node` takes longer; lb makes the tap at start, so this lasts until it restarts."""
    ha.lab.run(ha.node_ns[node], "tc", "qdisc", "add", "dev", "lb-ext", "root", "tbf", "rate",
               rate, "burst", "16kb", "latency", "10s")


# UDP flows that cost one datagram each (udp_flows.py): their real server's kernel drops them
# unanswered (sink_udp_flows), so nothing comes back and each lives its `udp` timeout.
FLOW_PORT = 9000
FLOW_SERVICE = {"name": "flows", "vip": VIP, "protocol": "udp", "port": FLOW_PORT,
                "forwarding": "nat", "real_servers": [{"address": REAL_SERVER, "port": FLOW_PORT}]}


def sink_udp_flows(ha):
    """The real server drops the flows' datagrams without a word (no port unreachable)."""
    ha.lab.run(ha.server, "nft", "add table inet sink")
    ha.lab.run(ha.server, "nft", "add chain inet sink input { type filter hook input priority 0; }")
    ha.lab.run(ha.server, "nft", f"add rule inet sink input udp dport {FLOW_PORT} drop")


def send_udp_flows(ha, count, first_port=10000):
    ha.lab.run(ha.client, "/usr/bin/python3", os.path.join(HERE, "udp_flows.py"), VIP,
               str(FLOW_PORT), str(count), str(first_port))


def flows_created(node):
    """How many connections `node` itself made for the flows' service (replicated copies are
    not made here, they are installed)."""
    return next(s["connections_total"] for s in node.stats()["services"] if s["name"] == "flows")


def make_udp_flows(ha, master, count):
    """`count` flows through `master`, sent again (the same ones) until it holds them all: a
    datagram lost on the way makes no connection."""
    for _ in range(3):
        send_udp_flows(ha, count)
        if wait_for(lambda: master.stats()["connections_active"] >= count, timeout=5):
            return
    raise AssertionError(f"{master.node} holds {master.stats()['connections_active']} of "
                         f"{count} flows")


class PacedDownload(ClientScript):
    """paced_download.py in the client's namespace: `url_path` from the VIP at `rate` bytes per
    second until finish()."""

    def __init__(self, ha, url_path, rate, port=80):
        super().__init__(ha, "paced_download.py", VIP, port, url_path, rate,
                         stdin=subprocess.PIPE)

    def running(self):
        return self.process.poll() is None

    def finish(self, timeout=120):
        """Full speed to the end: (bytes, sha256, longest wait in ms)."""
        if self.running():
            self.process.stdin.write(b"go\n")
            self.process.stdin.flush()
        self.process.wait(timeout=timeout)
        last = self.lines()[-1] if self.lines() else "nothing"
        assert last.startswith("done "), self.lines()[-5:]
        size, digest, longest = last.split()[1:]
        return int(size), digest, int(longest)


class SyncCapture:
    """The replication datagrams to and from `node`, captured on its port of the bridge
    (dumpcap, of tshark's package; -P: pcap, not pcapng)."""

    def __init__(self, ha, node, port=8848):
        self.ha = ha
        self.path = os.path.join(ha.lab.tmp, f"sync-{node}-{time.time_ns()}.pcap")
        log = self.path + ".log"
        self.process = ha.lab.spawn(ha.lab.switch, "dumpcap", "-q", "-P", "-i",
                                    ha.bridge_port(node), "-f", f"udp port {port}", "-w",
                                    self.path, log=log)
        assert wait_for(lambda: os.path.exists(self.path), timeout=10), open(log).read()

    def stop(self):
        """The datagrams captured: dictionaries of src, sport, dst, dport, type, payload (hex)."""
        self.ha.lab.stop(self.process, sig=2)
        out = self.ha.lab.run(self.ha.client, "/usr/bin/python3",
                              os.path.join(HERE, "sync_replay.py"), "list", self.path).stdout
        return [json.loads(line) for line in out.splitlines()]


def replay(ha, datagram, to, source):
    """`datagram` (from SyncCapture) sent again from the client's namespace to node `to`, as
    from `source` (an address; its port as captured): byte for byte, the source spoofed."""
    mac = ha.lab.mac(ha.node_ns[to], "ext0")
    ha.lab.run(ha.client, "/usr/bin/python3", os.path.join(HERE, "sync_replay.py"), "send",
               "eth0", mac, source, str(datagram["sport"]), ha.nodes[to],
               str(datagram["dport"]), datagram["payload"])
