"""Bad input on an FTP control connection through the real lb (NAT, FTP helper on): malformed,
overlong, non-numeric and out-of-range 227/229/PORT/EPRT lines, bounce attempts, and lines
split at every byte position, from a scripted server and client. Every byte of both streams is
checked, each case is counted, lb keeps running, and the session ends cleanly."""

import json
import os

import pytest

import topology as t
from netlab import Lab

HERE = os.path.dirname(os.path.abspath(__file__))
VALID_227 = "227 Entering Passive Mode (203,0,113,11,39,16).\r\n"
REWRITTEN_227 = "227 Entering Passive Mode (198,51,100,100,39,16).\r\n"
MALFORMED_SERVER = [
    "227 Entering Passive Mode (203,0,113,11,39).\r\n",          # five numbers
    "227 Entering Passive Mode (203,0,113,x,39,16).\r\n",        # not numeric
    "227 Entering Passive Mode (203,0,113,11,300,16).\r\n",      # out of range
    "227 Entering Passive Mode (203,0,113,11,0,0).\r\n",         # port 0
    "229 Entering Extended Passive Mode (|||99999|)\r\n",        # port out of range
    "229 Entering Extended Passive Mode (|||abc|)\r\n",
    "227 " + "9" * 700 + "\r\n",                                 # overlong
]
MALFORMED_CLIENT = ["PORT 198,51,100,10,1", "PORT 198,51,100,10,a,b", "EPRT |1|198.51.100.10|0|",
                    "EPRT |2|::1|40000|", "PORT 198,51,100,999,1,1"]
BOUNCE = ["PORT 192,0,2,99,0,80", "EPRT |1|192.0.2.99|80|"]


@pytest.fixture(scope="module")
def env():
    lab = Lab("ftpx")
    try:
        net = t.build(lab, "nat", workers=1)
        ns, _ = net.servers["rs1"]
        lab.spawn(ns, "/usr/bin/python3", os.path.join(HERE, "fake_ftp_server.py"), "21",
                  log=os.path.join(lab.tmp, "fake.log"))
        lab.wait_for_port(ns, 21)
        svc = {"name": "ftp", "vip": t.VIP, "protocol": "tcp", "port": 21, "scheduler": "rr",
               "forwarding": "nat", "real_servers": [{"address": net.servers["rs1"][1]}]}
        lb = t.Balancer(net, t.base_config(net, [svc]))
        yield lab, net, lb
    finally:
        lab.cleanup()


def session(lab, net, steps, timeout=300):
    r = lab.run(net.client("c1"), "/usr/bin/python3", os.path.join(HERE, "fake_ftp_client.py"),
                t.VIP, input=json.dumps(steps), check=False, timeout=timeout)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert bytes.fromhex(report["greeting"]) == b"220 fake ftp\r\n"
    assert bytes.fromhex(report["quit"]) == b"221 bye\r\n"  # the session ended cleanly
    return [bytes.fromhex(s) for s in report["steps"]]


def test_malformed_and_overlong_lines_pass_untouched_and_are_counted(env):
    lab, net, lb = env
    before = lb.stats()["ftp"]
    steps = [{"say": line.encode().hex()} for line in MALFORMED_SERVER]
    steps += [{"send": line} for line in MALFORMED_CLIENT + BOUNCE]
    steps.append({"say": VALID_227.encode().hex()})  # and the session still works
    got = session(lab, net, steps)
    for line, received in zip(MALFORMED_SERVER, got):
        assert received == line.encode()
    client_echoes = got[len(MALFORMED_SERVER):len(MALFORMED_SERVER) + len(MALFORMED_CLIENT) +
                        len(BOUNCE)]
    for line, received in zip(MALFORMED_CLIENT + BOUNCE, client_echoes):
        assert received == f"200 got {line}\r\n".encode()
    assert got[-1] == REWRITTEN_227.encode()
    after = lb.stats()["ftp"]
    assert after["malformed_total"] - before["malformed_total"] == \
        len(MALFORMED_SERVER) + len(MALFORMED_CLIENT)
    assert after["bounce_refused_total"] - before["bounce_refused_total"] == len(BOUNCE)
    assert after["active_connections_total"] == before["active_connections_total"]
    assert lb.process.poll() is None


def test_a_227_split_at_every_byte_position_arrives_rewritten(env):
    lab, net, lb = env
    before = lb.stats()["ftp"]
    cuts = list(range(1, len(VALID_227)))
    got = session(lab, net, [{"say": VALID_227.encode().hex(), "cut": c} for c in cuts])
    assert all(g == REWRITTEN_227.encode() for g in got), [g for g in got if g !=
                                                            REWRITTEN_227.encode()][:3]
    after = lb.stats()["ftp"]
    assert after["pasv_rewritten_total"] - before["pasv_rewritten_total"] == len(cuts)
    assert after["split_lines_held_total"] > before["split_lines_held_total"]


def test_a_port_command_split_at_every_byte_position_reaches_the_server_intact(env):
    lab, net, lb = env
    before = lb.stats()["ftp"]
    line = "PORT 198,51,100,10,156,64"
    got = session(lab, net, [{"send": line, "cut": c} for c in range(1, len(line) + 2)])
    assert all(g == f"200 got {line}\r\n".encode() for g in got)
    after = lb.stats()["ftp"]
    # Understood every time, whole: the first set up the active data connection.
    assert after["active_connections_total"] == before["active_connections_total"] + 1
    assert after["malformed_total"] == before["malformed_total"]
    assert lb.process.poll() is None
