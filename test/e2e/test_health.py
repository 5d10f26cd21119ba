"""Health checks end to end: a real server whose HTTP server stops is drained within
fall x interval (+1 interval) and comes back after `rise` successes; send_expect catches a
stopped vsftpd; exec works; lbctl and the metrics show each state; checks that hang (a target
that accepts and never answers, a script that sleeps) never delay the control loop."""

import json
import os
import subprocess
import time

import pytest

import ftp
import topology as t
from netlab import Lab

URL = f"http://{t.VIP}"
INTERVAL, TIMEOUT, RISE, FALL = 0.2, 0.15, 2, 3


def http_check():
    return {"type": "http", "path": "/whoami", "interval": "200ms", "timeout": "150ms",
            "rise": RISE, "fall": FALL}


class Env:
    def __init__(self, lab, net, lb, servers, ftp_servers):
        self.lab, self.net, self.lb, self.servers = lab, net, lb, servers
        self.ftp_servers = ftp_servers


@pytest.fixture
def env(big_file):
    lab = Lab("hc")
    try:
        net = t.build(lab, "nat", workers=1)
        servers, ftp_servers = {}, {}
        for name, (ns, _) in net.servers.items():
            servers[name] = lab.http_server(ns, name, 8080)
            ftp_servers[name], _, _ = ftp.start_vsftpd(lab, ns, name, {})
        flag = os.path.join(lab.tmp, "rs2-ok")
        open(flag, "w").close()
        web = t.service(net, "web", 80, backend_port=8080)
        web["health_check"] = http_check()
        ftp_svc = t.service(net, "ftp", 21)
        ftp_svc["health_check"] = {"type": "send_expect", "expect": "220", "interval": "200ms",
                                   "timeout": "150ms", "rise": 1, "fall": 2}
        scripted = t.service(net, "scripted", 81, backend_port=8080)
        scripted["health_check"] = {"type": "exec", "command": "true",
                                    "interval": "200ms", "timeout": "150ms", "rise": 1,
                                    "fall": 2}
        scripted["real_servers"][0]["health_check"] = {"command": "true"}
        echo = t.service(net, "echo", 5353, protocol="udp")
        echo["health_check"] = {"type": "udp", "send": "ping\\n", "expect_regex": "^rs[12]",
                                "interval": "200ms", "timeout": "150ms", "rise": 1, "fall": 2}
        scripted["real_servers"][1]["health_check"] = {"command": f"test -e {flag}"}
        udp_servers = {name: lab.udp_echo_server(ns, name, 5353)
                       for name, (ns, _) in net.servers.items()}
        lb = t.Balancer(net, t.base_config(net, [web, ftp_svc, scripted, echo]))
        e = Env(lab, net, lb, servers, ftp_servers)
        e.udp_servers = udp_servers
        yield e
    finally:
        lab.cleanup()


def real_server(env, service, server):
    code, out, err = env.lb.ctl("real-servers", service, "--json")
    assert code == 0, err
    for s in json.loads(out):
        if s["server"].startswith(server):
            return s
    raise KeyError(server)


def health_of(env, service, server):
    return real_server(env, service, server)["health"]


def test_a_stopped_http_server_is_drained_in_time_and_comes_back(env):
    assert t.wait_for(lambda: health_of(env, "web", "203.0.113.11") == "up", 5)
    env.lab.stop(env.servers["rs1"])
    stopped = time.time()
    assert t.wait_for(lambda: health_of(env, "web", "203.0.113.11") == "down", 5, 0.02)
    took = time.time() - stopped
    # fall x interval, plus one interval, plus the time the stats/lbctl round trip takes.
    assert took <= FALL * INTERVAL + INTERVAL + 0.3, took
    assert "is down (http check: connect refused)" in env.lb.log()
    assert t.fetch_many(env.net, "c1", f"{URL}/whoami", 6) == ["rs2"] * 6
    metrics = env.lb.stats()
    assert any(h["server"].startswith("203.0.113.11") and not h["up"]
               for h in metrics["health"])
    # Back: `rise` successes later it takes connections again.
    ns, _ = env.net.servers["rs1"]
    env.servers["rs1"] = env.lab.http_server(ns, "rs1", 8080)
    assert t.wait_for(lambda: health_of(env, "web", "203.0.113.11") == "up", 5, 0.02)
    assert set(t.fetch_many(env.net, "c1", f"{URL}/whoami", 6)) == {"rs1", "rs2"}
    assert env.lb.log().count("203.0.113.11:8080 is down") == 1  # logged once


def test_send_expect_detects_a_stopped_vsftpd(env):
    assert t.wait_for(lambda: health_of(env, "ftp", "203.0.113.12") == "up", 5)
    env.lab.stop(env.ftp_servers["rs2"])  # by PID
    assert t.wait_for(lambda: health_of(env, "ftp", "203.0.113.12") == "down", 5, 0.05)


def test_a_udp_check(env):
    assert t.wait_for(lambda: health_of(env, "echo", "203.0.113.11") == "up", 5)
    env.lab.stop(env.udp_servers["rs1"])
    assert t.wait_for(lambda: health_of(env, "echo", "203.0.113.11") == "down", 5, 0.05)
    assert health_of(env, "echo", "203.0.113.12") == "up"


def test_an_exec_check(env):
    assert t.wait_for(lambda: health_of(env, "scripted", "203.0.113.12") == "up", 5)
    os.unlink(os.path.join(env.lab.tmp, "rs2-ok"))
    assert t.wait_for(lambda: health_of(env, "scripted", "203.0.113.12") == "down", 5, 0.05)
    assert health_of(env, "scripted", "203.0.113.11") == "up"
    assert "exited with 1" in env.lb.log()


def test_hanging_checks_do_not_delay_the_control_loop(env):
    """A target that accepts and never answers, and a script that sleeps: both time out
    while the control loop keeps its 100 ms tick."""
    ns, _ = env.net.servers["rs1"]
    # Replace rs1's HTTP server by a listener that accepts and says nothing.
    env.lab.stop(env.servers["rs1"])
    env.lab.spawn(ns, "socat", "TCP-LISTEN:8080,fork,reuseaddr", "SYSTEM:sleep 60")
    new = json.load(open(env.lb.config_path))
    new["services"][2]["real_servers"][0]["health_check"] = {"command": "sleep 60"}
    env.lb.rewrite_config(new)
    assert env.lb.ctl("reload")[0] == 0
    # The latest check's reason, not the log: a check that fell in the moment between the old
    # server stopping and socat listening went down as "refused", and the log has transitions only.
    assert t.wait_for(lambda: "no answer within 150ms" in
                      real_server(env, "web", "203.0.113.11")["health_reason"], 5, 0.05)
    assert health_of(env, "web", "203.0.113.11") == "down"
    lags = []
    deadline = time.time() + 3
    while time.time() < deadline:
        lags.append(env.lb.stats()["control_loop_lag_max_ms"])
    assert "'sleep 60' killed after 150ms" in env.lb.log()
    assert max(lags) < 50, lags
    assert env.lb.ctl("services")[0] == 0


def test_on_failure_reset_ends_established_connections(env, big_file):
    """With on_failure: reset, the download from a server that fails its check is reset at
    once (with drain, the default, it would go on: see test_operations)."""
    new = json.load(open(env.lb.config_path))
    web = new["services"][0]
    web["on_failure"] = "reset"
    flag = os.path.join(env.lab.tmp, "web-ok")
    open(flag, "w").close()
    web["health_check"] = {"type": "exec", "command": f"test -e {flag}", "interval": "200ms",
                           "timeout": "150ms", "rise": 1, "fall": 1}
    env.lb.rewrite_config(new)
    assert env.lb.ctl("reload")[0] == 0
    for name, (ns, _) in env.net.servers.items():
        os.symlink(big_file[0], os.path.join(env.lab.tmp, f"www-{name}-8080", "big.bin"))
    out = os.path.join(env.lab.tmp, "reset.bin")
    p = subprocess.Popen(["ip", "netns", "exec", env.net.client("c1"), "curl", "-sS",
                          "--max-time", "120", "--limit-rate", "5M", f"{URL}/big.bin", "-o", out],
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    env.lab.processes.append(p)
    assert t.wait_for(lambda: os.path.exists(out) and os.path.getsize(out) > 1 << 20, 20)
    started = time.time()
    os.unlink(flag)  # every web server fails its check now
    code = p.wait(timeout=60)
    assert code != 0, "the download was not reset"
    assert time.time() - started < 10
    assert "reset" in p.stderr.read().lower()
    assert "connection(s) reset (on_failure: reset)" in env.lb.log()


def test_checks_with_short_timeouts_see_no_false_failure_during_full_speed_downloads(env,
                                                                                        big_file):
    """Issue 10, 6b: the node's own traffic (health checks) must not lose to forwarded traffic.
    Three unthrottled downloads through one worker while every check runs each 200 ms with a
    150 ms timeout: no server may be marked down. The checks' SYN-ACKs were lost in
    net_af_packet's 512-frame receive ring, before any worker could tell them from the
    downloads; lb now gives af_packet rings 4096 frames unless the vdev says otherwise (before
    that, 2 to 4 runs of 6 failed here). The UDP server is one process (udp_echo.py): socat's
    fork per datagram sometimes never answered under this load. It prints the figures that
    place a loss: lb's drop counters, its loop's lag, the kernel's backlog, the devices'."""
    assert t.wait_for(lambda: health_of(env, "web", "203.0.113.11") == "up", 5)
    assert t.wait_for(lambda: health_of(env, "web", "203.0.113.12") == "up", 5)
    for name, (ns, _) in env.net.servers.items():
        os.symlink(big_file[0], os.path.join(env.lab.tmp, f"www-{name}-8080", "big.bin"))
    log_before = env.lb.log()

    def softnet_dropped():
        return sum(int(line.split()[1], 16) for line in open("/proc/net/softnet_stat"))
    dropped_before = softnet_dropped()
    downloads = []
    for i in range(3):
        p = subprocess.Popen(["ip", "netns", "exec", env.net.client("c1"), "curl", "-sS",
                              "--max-time", "15", f"{URL}/big.bin", "-o", "/dev/null",
                              "-w", "%{size_download} %{speed_download}\n"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        env.lab.processes.append(p)
        downloads.append(p)
    results = [p.communicate(timeout=30)[0].strip() for p in downloads]
    print("downloads (bytes, bytes/s):", results)
    stats = env.lb.stats()
    print("drops:", {k: v for k, v in stats["drops_total"].items() if v})
    print("lag max ms:", stats["control_loop_lag_max_ms"])
    print("kernel backlog drops:", softnet_dropped() - dropped_before)
    print("workers:", stats.get("workers"))
    print("devices:", [(i["name"], i["rx_packets_total"], i["rx_missed_total"])
                       for i in stats["interfaces"]])
    assert all(r and int(r.split()[0]) > 0 for r in results), results
    new_lines = env.lb.log()[len(log_before):]
    falls = [line for line in new_lines.splitlines() if "is down" in line]
    assert not falls, "\n".join(falls)
