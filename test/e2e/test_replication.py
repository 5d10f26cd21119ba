"""Session replication between two real lb processes (issue 12): connections established
through the master survive its kill -9, because the standby installed them as they were made."""

import hashlib
import json
import os
import threading
import time

import pytest

from ha import (VIP, HaLab, Node, nat_pair_instances, node_config, replication_section,
                wait_state)
from netlab import Lab
from topology import wait_for


def replication(node):
    code, out, err = node.ctl("--json", "replication")
    assert code == 0, err
    return json.loads(out)


def start_node(ha, node, priority, role, **extra):
    """lb `node` of the NAT pair with replication, waited for until `role` (MASTER or BACKUP)."""
    instances, group = nat_pair_instances(priority, **extra)
    config = node_config(ha, node, instances, group)
    config["replication"] = replication_section(ha, node)
    n = Node(ha, node, config)
    for name in ("outside", "inside"):
        assert wait_state(n, role, timeout=5, name=name), n.log()
    return n


def start_pair(ha, a_priority=150, b_priority=100, **extra):
    """A master, B backup, both in sync with each other."""
    a = start_node(ha, "a", a_priority, "MASTER", **extra)
    b = start_node(ha, "b", b_priority, "BACKUP", **extra)
    for n in (a, b):
        assert wait_for(lambda: replication(n)["state"] == "in sync", timeout=10), replication(n)
    return a, b


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


@pytest.fixture
def nat_ha():
    with Lab("rep") as lab:
        yield HaLab(lab, nat=True)


def big_file(ha, megabytes):
    path = os.path.join(ha.lab.tmp, f"big-{megabytes}")
    with open(path, "wb") as f:
        for _ in range(megabytes):
            f.write(os.urandom(1 << 20))
    return path


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
