"""End to end: the real lb on af_packet veths, real HTTP servers and curl, NAT and DR, with one
and with two workers (two queues per port)."""

import collections
import hashlib
import os

import pytest

import topology as t

URL = f"http://{t.VIP}"


def counts(bodies):
    return collections.Counter(bodies)


def test_rr_splits_new_connections_evenly(env):
    bodies = t.fetch_many(env.net, "c1", f"{URL}:80/whoami", 200)
    c = counts(bodies)
    assert sum(c.values()) == 200, bodies
    for name in ("rs1", "rs2"):
        assert 90 <= c[name] <= 110, c
    # With two workers, both queues carried traffic: flows (and NAT replies) were spread.
    workers = env.lb.stats()["workers"]
    assert len(workers) == env.net.workers
    assert all(w["rx_packets_total"] > 0 for w in workers), workers


def test_wrr_three_to_one(env):
    c = counts(t.fetch_many(env.net, "c1", f"{URL}:83/whoami", 200))
    assert sum(c.values()) == 200
    assert 135 <= c["rs1"] <= 165, c
    assert 35 <= c["rs2"] <= 65, c


def test_dr_replies_bypass_the_balancer(env, big_file):
    if env.net.mode != "dr":
        pytest.skip("DR only")
    before = env.lb.stats()
    out = os.path.join(env.lab.tmp, "dr-bypass.bin")
    r = t.curl(env.net, "c1", f"{URL}:80/big.bin", "-o", out, timeout=300)
    assert r.returncode == 0, r.stderr
    size = os.path.getsize(out)
    os.unlink(out)
    assert size == os.path.getsize(big_file[0])
    after = env.lb.stats()
    web = next(s for s in after["services"] if s["name"] == "web")
    # The file came from the real server straight to the client: lb saw only the client's
    # side (mostly ACKs), a small fraction of it, and sent nothing back to the client.
    received = after["rx_bytes_total"] - before["rx_bytes_total"]
    assert 0 < received < size / 10, (received, size)
    assert web["packets_out_total"] == 0


def test_persistence_holds_a_client_on_one_server(env):
    c = counts(t.fetch_many(env.net, "c1", f"{URL}:81/whoami", 50))
    assert len(c) == 1 and sum(c.values()) == 50, c


def test_persistence_netmask_groups_clients_of_one_subnet(env):
    first = t.fetch_many(env.net, "c1", f"{URL}:82/whoami", 5)
    second = t.fetch_many(env.net, "c2", f"{URL}:82/whoami", 5)
    assert len(set(first + second)) == 1, (first, second)


def test_after_the_timeout_a_client_is_scheduled_anew(env):
    """With nothing alive, the template expires (2 s) and the client may land elsewhere: with
    rr, a few rounds of expiry and reconnection must reach both servers."""
    seen = set(t.fetch_many(env.net, "c1", f"{URL}:81/whoami", 3))
    assert len(seen) == 1
    for _ in range(4):
        assert t.wait_for(lambda: env.lb.stats()["persistence_templates"] == 0, timeout=15), \
            env.lb.stats()
        seen |= set(t.fetch_many(env.net, "c1", f"{URL}:81/whoami", 1))
        if len(seen) == 2:
            break
    assert seen == {"rs1", "rs2"}


def test_large_download_arrives_intact(env, big_file):
    path, digest = big_file
    out = os.path.join(env.lab.tmp, "download.bin")
    r = t.curl(env.net, "c1", f"{URL}:80/big.bin", "-o", out, timeout=300)
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        got = hashlib.file_digest(f, "sha256").hexdigest()
    os.unlink(out)
    assert got == digest


def test_a_port_that_is_not_a_service_gets_no_answer(env):
    r = t.curl(env.net, "c1", f"{URL}:8081/whoami", timeout=2)
    assert r.returncode == 28, (r.returncode, r.stderr)  # timed out: no SYN-ACK, no RST
    drops = env.lb.stats()["drops_total"]
    assert drops["no_service"] >= 1


def test_ping_to_the_vip_is_answered(env):
    r = env.lab.run(env.net.client("c1"), "ping", "-c", "3", "-i", "0.2", "-W", "1", t.VIP,
                    check=False)
    assert r.returncode == 0, r.stdout
    assert "3 received" in r.stdout


def test_udp_service_is_balanced_and_answers_come_back(env):
    answers = []
    for _ in range(20):
        # UDP may lose a datagram on the virtual links; one retry (a new flow) is allowed.
        for _attempt in range(2):
            r = env.lab.run(env.net.client("c1"), "socat", "-T", "2", "-",
                            f"UDP4:{t.VIP}:5353", input="hello\n", check=False)
            if r.stdout.strip():
                break
        answers.append(r.stdout.strip())
    c = counts(answers)
    assert c["rs1"] + c["rs2"] == 20, answers
    assert 7 <= c["rs1"] <= 13, c


def test_shutdown_is_clean(env):
    """Last in the module: SIGTERM stops lb with exit 0 and leaves no hugepage files."""
    code, log = env.lb.stop()
    assert code == 0, log
    assert "stopped cleanly" in log
    assert t.hugepage_files() - env.hugepage_files_before == set()
