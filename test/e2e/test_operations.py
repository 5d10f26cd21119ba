"""Operating a running lb: lbctl (tables, JSON, errors), drain, weight changes and hot reload
(lbctl reload and SIGHUP) during a large download, which must arrive intact."""

import copy
import hashlib
import json
import os
import re
import signal
import socket
import subprocess

import pytest

import topology as t
from netlab import Lab

URL = f"http://{t.VIP}"


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


class Env:
    def __init__(self, lab, net, lb, config):
        self.lab, self.net, self.lb, self.config = lab, net, lb, config


@pytest.fixture
def ops(big_file):
    lab = Lab("ops")
    try:
        net = t.build(lab, "nat", workers=1)
        for name, (ns, _) in net.servers.items():
            lab.http_server(ns, name, 8080, files={"big.bin": big_file[0]})
            lab.http_server(ns, name, 8081)
        config = t.base_config(net, [t.service(net, "web", 80, backend_port=8080),
                                     t.service(net, "other", 81, backend_port=8081)])
        lb = t.Balancer(net, config)
        yield Env(lab, net, lb, config)
    finally:
        lab.cleanup()


def start_download(env, out, rate="40M"):
    """A slow download in the background (rate-limited so changes happen during it)."""
    p = subprocess.Popen(["ip", "netns", "exec", env.net.client("c1"), "curl", "-sS",
                          "--max-time", "300", "--limit-rate", rate, "-H", "Connection: close",
                          f"{URL}/big.bin", "-o", out], stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    env.lab.processes.append(p)
    assert t.wait_for(lambda: os.path.exists(out) and os.path.getsize(out) > 1 << 20, 20)
    return p


def download_server(env):
    """Which real server carries the running download (the one connection to web)."""
    code, out, _ = env.lb.ctl("connections", "--service", "web", "--json")
    assert code == 0
    conns = [c for c in json.loads(out) if c["state"] == "established"]
    assert len(conns) == 1, conns
    return conns[0]["server"].split(":")[0]


def test_lbctl_tables_json_and_errors(ops):
    lb = ops.lb
    code, out, _ = lb.ctl("services")
    assert code == 0 and "web" in out and "other" in out and "SERVICE" in out
    code, out, _ = lb.ctl("services", "--json")
    names = {s["name"] for s in json.loads(out)}
    assert names == {"web", "other"}
    t.fetch_many(ops.net, "c1", f"{URL}/whoami", 4)
    code, out, _ = lb.ctl("real-servers", "web", "--json")
    servers = json.loads(out)
    assert {s["server"] for s in servers} == {"203.0.113.11:8080", "203.0.113.12:8080"}
    assert sum(s["connections_total"] for s in servers) == 4
    code, out, _ = lb.ctl("connections", "--limit", "2")
    assert code == 0 and len(out.strip().splitlines()) <= 3
    # Errors: clear, non-zero, nothing changed.
    for args, text in [(("real-servers", "nope"), "no service 'nope'"),
                       (("drain", "nope", "203.0.113.11"), "no service 'nope'"),
                       (("drain", "web", "192.0.2.1"), "has no real server 192.0.2.1"),
                       (("set-weight", "web", "203.0.113.11", "70000"), "out of range"),
                       (("set-weight", "web", "203.0.113.11", "x"), "not a non-negative"),
                       (("connections", "--service", "nope"), "no service 'nope'")]:
        code, _, err = lb.ctl(*args)
        assert code == 1 and text in err, (args, code, err)
    # Usage errors: 2, whichever side finds them (lbctl before sending, or lb).
    for args, text in [(("set-weight",), "usage: set-weight SERVICE SERVER WEIGHT"),
                       (("set-weight", "web", "203.0.113.11"), "usage: set-weight"),
                       (("drain", "web"), "usage: drain SERVICE SERVER"),
                       (("connections", "--limit"), "usage: connections"),
                       (("connections", "--limit", "x"), "usage: connections"),
                       (("services", "extra"), "usage: services"),
                       (("reload", "now"), "usage: reload"),
                       (("frobnicate",), "unknown command"),
                       ((), "usage"), (("--json",), "usage"), (("--socket",), "usage")]:
        r = subprocess.run([t.LBCTL, *(args if args == ("--socket",) else
                                       ("--socket", lb.socket, *args))],
                           capture_output=True, text=True)
        code, err = r.returncode, r.stderr + r.stdout  # --json: the error is JSON on stdout
        assert code == 2 and text in err, (args, code, err)
    for line, text in [(b"set-weight\n", b"usage\nusage: set-weight"),
                       (b"--json frobnicate\n", b"usage\n")]:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(lb.socket)
            s.sendall(line)
            assert s.makefile("rb").read().startswith(text)
    code, _, err = subprocess.run([t.LBCTL, "--socket", "/nonexistent/lb.sock", "services"],
                                  capture_output=True, text=True).returncode, None, None
    assert code == 3
    r = subprocess.run([t.LBCTL, "--socket", "/nonexistent/lb.sock", "services"],
                       capture_output=True, text=True)
    assert "lb is not running" in r.stderr
    assert oct(os.stat(lb.socket).st_mode & 0o777) == "0o600"


def test_drain_stops_new_connections_while_a_download_completes(ops, big_file):
    env = ops
    out = os.path.join(env.lab.tmp, "drain.bin")
    p = start_download(env, out)
    server = download_server(env)
    code, text, err = env.lb.ctl("drain", "web", f"{server}:8080")
    assert code == 0, err
    bodies = t.fetch_many(env.net, "c2", f"{URL}/whoami", 10)
    other = "rs1" if server.endswith(".12") else "rs2"
    assert bodies == [other] * 10, bodies
    assert p.wait(timeout=300) == 0, p.stderr.read()
    assert sha256(out) == big_file[1]


def test_reload_during_a_download(ops, big_file):
    """Adds a service, changes weights and removes the other real server of the download's
    service: the download completes intact, the changes take effect; then an invalid file
    changes nothing and lbctl shows the error with its line and column."""
    env = ops
    out = os.path.join(env.lab.tmp, "reload.bin")
    p = start_download(env, out)
    server = download_server(env)
    keep = [rs for rs in env.config["services"][0]["real_servers"] if rs["address"] == server]
    new = copy.deepcopy(env.config)
    new["services"][0]["real_servers"] = keep  # the other server is removed
    new["services"][1]["real_servers"][0]["weight"] = 3
    new["services"].append(t.service(env.net, "extra", 82, backend_port=8080))
    env.lb.rewrite_config(new)
    code, text, err = env.lb.ctl("reload")
    assert code == 0, err
    assert "reloaded" in text
    # New connections follow the new configuration.
    name = "rs1" if server.endswith(".11") else "rs2"
    assert t.fetch_many(env.net, "c2", f"{URL}/whoami", 6) == [name] * 6
    assert set(t.fetch_many(env.net, "c2", f"{URL}:82/whoami", 4)) == {"rs1", "rs2"}
    # An invalid file: refused, with the location, and nothing changes.
    broken = copy.deepcopy(new)
    broken["services"][0]["real_servers"][0]["weight"] = 70000
    broken["services"][0]["bogus_key"] = 1
    env.lb.rewrite_config(broken)
    code, _, err = env.lb.ctl("reload")
    assert code == 1
    assert re.search(re.escape(env.lb.config_path) + r":\d+:\d+: weight: 70000 is out of range",
                     err), err
    assert re.search(re.escape(env.lb.config_path) + r":\d+:\d+: unknown key 'bogus_key'", err)
    assert "unchanged" in err
    assert set(t.fetch_many(env.net, "c2", f"{URL}:82/whoami", 4)) == {"rs1", "rs2"}
    assert p.wait(timeout=300) == 0, p.stderr.read()
    assert sha256(out) == big_file[1]


def test_sighup_reloads_and_restart_only_settings_are_reported(ops):
    env = ops
    new = copy.deepcopy(env.config)
    new["dpdk"]["workers"] = 2
    new["services"][0]["real_servers"][1]["weight"] = 0
    env.lb.rewrite_config(new)
    os.kill(env.lb.process.pid, signal.SIGHUP)
    assert t.wait_for(lambda: "reload (SIGHUP)" in env.lb.log(), 10)
    log = env.lb.log()
    assert "needs restart: dpdk" in log, log
    assert t.fetch_many(env.net, "c1", f"{URL}/whoami", 4) == ["rs1"] * 4
    assert env.lb.process.poll() is None


def test_a_server_added_by_json_reload_is_checked_at_once(ops):
    """`lbctl --json reload` reconfigures health checks (issue 10, item 6: the control loop
    once looked for "reload" at the start of the raw request), and a server the reload adds is
    checked at once: a closed one takes no traffic once its first check fails, although `fall`
    is 3 and the interval 2 s."""
    env = ops
    new = copy.deepcopy(env.config)
    late = t.service(env.net, "late", 83, backend_port=8080)
    late["real_servers"][1]["port"] = 9999  # nothing listens there
    late["health_check"] = {"type": "tcp", "interval": "2s", "timeout": "300ms", "rise": 2,
                            "fall": 3}
    new["services"].append(late)
    env.lb.rewrite_config(new)
    code, out, err = env.lb.ctl("--json", "reload")
    assert code == 0, err
    assert json.loads(out)["applied"] is True

    def health():
        code, out, _ = env.lb.ctl("--json", "real-servers", "late")
        return {s["server"]: s["health"] for s in json.loads(out)}

    assert t.wait_for(lambda: health()["203.0.113.12:9999"] == "down", 1.5), health()
    assert health()["203.0.113.11:8080"] in ("pending", "up")
    assert t.fetch_many(env.net, "c2", f"{URL}:83/whoami", 8) == ["rs1"] * 8
    log = env.lb.log()
    assert "lbctl --json reload:" in log
    assert "late 203.0.113.12:9999 is down (tcp check: connect refused)" in log, log
    # --json set-weight and drain are logged as well, each on a line of its own.
    assert env.lb.ctl("--json", "set-weight", "web", "203.0.113.11:8080", "2")[0] == 0
    assert env.lb.ctl("--json", "drain", "web", "203.0.113.12:8080")[0] == 0
    assert env.lb.ctl("drain", "web", "192.0.2.1")[0] == 1
    log = env.lb.log()
    assert "lb: lbctl --json set-weight web 203.0.113.11:8080 2: " in log
    assert "lb: lbctl --json drain web 203.0.113.12:8080: " in log
    assert re.search(r"lb: lbctl drain web 192\.0\.2\.1: service 'web' has no real server "
                     r"192\.0\.2\.1\n", log), log


def test_a_second_lb_on_the_same_admin_socket_fails_at_once_and_a_stale_one_is_replaced(ops):
    """Issue 10, item 10: the admin socket is shared by every lb on a host. A second lb whose
    admin.socket a live lb holds exits 1 at once, before starting DPDK, saying what to do;
    the first keeps answering. A socket file left by a killed lb is replaced."""
    env = ops
    second = copy.deepcopy(env.config)
    second["stats"]["file"] = os.path.join(env.lab.tmp, "second-stats.json")
    path = os.path.join(env.lab.tmp, "second.yaml")
    with open(path, "w") as f:
        f.write(t.yaml_emit.dump(second))
    r = env.lab.run(env.net.lb_ns, t.LB, "--config", path, check=False, timeout=20)
    assert r.returncode == 1, r.stderr
    assert f"admin socket {env.lb.socket} is in use by another running lb; give each lb on a " \
           "host its own admin.socket" in r.stderr, r.stderr
    assert "EAL" not in r.stderr  # it stopped before DPDK
    assert env.lb.ctl("services")[0] == 0

    env.lab.stop(env.lb.process, sig=signal.SIGKILL)
    assert os.path.exists(env.lb.socket)  # left behind
    again = t.Balancer(env.net, env.config)
    assert again.ctl("services")[0] == 0
