"""A reload of a large valid file is read, parsed and checked off the control loop: the loop's
lag stays small, the VRRP master keeps advertising (its backup, listening, never takes over) and
health checks keep running. Before, the file was parsed on the loop: a few MB stalled it for
longer than the backup's master-down interval (about 0.35 s at advert_int 100ms)."""

import json
import os
import signal
import threading
import time

import pytest

import yaml_emit
from ha import HaLab, Node, instance, node_config, wait_state
from netlab import Lab
from topology import wait_for

LAG_BOUND_MS = 250


@pytest.fixture
def ha():
    with Lab("rl") as lab:
        yield HaLab(lab)


def large_config(config):
    """`config` plus 1000 DR services of three real servers each and 90,000 EAL arguments
    (dpdk is restart-only: a reload keeps the running ones and says so), about 3 MB of YAML,
    under the 4 MiB limit."""
    big = json.loads(json.dumps(config))
    for i in range(1000):
        big["services"].append({
            "name": f"svc{i}", "vip": "198.51.100.100", "port": 1000 + i, "forwarding": "dr",
            "real_servers": [{"address": f"198.51.100.{31 + k}"} for k in range(3)]})
    big["dpdk"]["eal_args"] = big["dpdk"]["eal_args"] + ["--log-level=*:warning"] * 90_000
    return big


class LagSampler:
    """Reads the stats file (rewritten every 200 ms with the period's largest loop lag) and
    keeps the largest value seen, and the health checks' count, until stopped."""

    def __init__(self, node):
        self.node, self.max_lag_ms, self.stop_flag = node, 0.0, threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.stop_flag.is_set():
            try:
                with open(self.node.stats_path) as f:
                    stats = json.load(f)
                self.max_lag_ms = max(self.max_lag_ms, stats["control_loop_lag_max_ms"])
            except (OSError, ValueError):
                pass  # caught between the rename and nothing: next time
            time.sleep(0.05)

    def stop(self):
        self.stop_flag.set()
        self.thread.join()
        return self.max_lag_ms


def checks_total(node):
    return sum(h["checks_total"] for h in node.stats()["health"])


def test_a_large_reload_stalls_neither_vrrp_nor_health_checks(ha):
    config_a = node_config(ha, "a", [instance(150)])
    config_a["services"][0]["health_check"] = {"type": "tcp", "interval": "100ms",
                                               "timeout": "100ms"}
    a = Node(ha, "a", config_a)
    assert wait_state(a, "MASTER", timeout=5)
    b = Node(ha, "b", node_config(ha, "b", [instance(100)]))
    assert wait_state(b, "BACKUP", timeout=5)
    big = yaml_emit.dump(large_config(config_a))
    assert 2_000_000 < len(big) < 4 * 1024 * 1024
    with open(a.config_path, "w") as f:
        f.write(big)
    time.sleep(0.5)  # a lag-free period in the stats first
    checks_before = checks_total(a)

    sampler = LagSampler(a)
    start = time.monotonic()
    os.kill(a.process.pid, signal.SIGHUP)
    assert wait_for(lambda: "reload (SIGHUP)" in a.log(), 30), a.log()
    took = time.monotonic() - start
    # A second reload, through lbctl, answered once it is applied.
    code, out, err = a.ctl("reload", timeout=60)
    assert code == 0, err
    assert "reloaded: 1001 service(s)" in out
    assert "needs restart: dpdk" in out
    time.sleep(0.5)
    max_lag = sampler.stop()
    print(f"reload of {len(big)} bytes took {took:.2f} s; control loop lag at most "
          f"{max_lag:.1f} ms")

    assert max_lag < LAG_BOUND_MS, a.log()
    assert a.state() == "MASTER" and b.state() == "BACKUP", b.log()
    assert "-> MASTER" not in b.log(), b.log()  # b never took over, even for a moment
    assert checks_total(a) > checks_before + 5


def test_reloads_requested_during_a_reload_are_queued_and_all_answered(ha):
    config_a = node_config(ha, "a", [instance(150)])
    a = Node(ha, "a", config_a)
    with open(a.config_path, "w") as f:
        f.write(yaml_emit.dump(large_config(config_a)))
    answers = []

    def reload():
        answers.append(a.ctl("reload", timeout=60))

    threads = [threading.Thread(target=reload) for _ in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join()
    assert [code for code, _, _ in answers] == [0] * 4, answers
    assert all("reloaded: 1001 service(s)" in out for _, out, _ in answers)
    # The first runs alone; the three asked meanwhile share one more reload.
    assert a.log().count("lbctl reload:") == 4
    assert a.process.poll() is None


def test_a_reload_of_a_fifo_or_a_broken_file_answers_at_once_and_changes_nothing(ha):
    a = Node(ha, "a", node_config(ha, "a", [instance(150)]))
    assert wait_state(a, "MASTER", timeout=5)
    os.unlink(a.config_path)
    os.mkfifo(a.config_path)  # no writer: opening it for reading used to block the loop
    code, _, err = a.ctl("reload", timeout=10)
    assert code == 1
    assert f"cannot read {a.config_path}: not a regular file (FIFO)" in err
    assert "the running configuration is unchanged" in err
    os.unlink(a.config_path)
    with open(a.config_path, "w") as f:
        f.write("node:\n  name: a\n" + "".join(f"  bogus{i}: 1\n" for i in range(30)))
    code, _, err = a.ctl("reload", timeout=10)
    assert code == 1
    errors = [l for l in err.splitlines() if a.config_path + ":" in l]
    assert len(errors) == 20, err
    assert "... and 11 more error(s)" in err  # the 30 keys and the missing interfaces
    assert a.state() == "MASTER" and a.process.poll() is None
