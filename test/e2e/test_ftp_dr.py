"""FTP through the balancer in DR mode: a port-range group [21, 20, 10000-10100] with
persistence keeps every connection of a client on one real server, in passive (PASV, EPSV) and
active (PORT, EPRT) mode. vsftpd real servers hold the VIP on loopback and advertise it in their
227 replies themselves; in active mode they connect from VIP:20 straight to the client, and the
client's SYN-ACK and ACKs reach lb as packets of a connection it never saw open."""

import hashlib
import os

import pytest

import ftp
import topology as t
from netlab import Lab

SESSIONS = int(os.environ.get("LB_E2E_FTP_SESSIONS", "10"))


class FtpEnv:
    def __init__(self, lab, net, lb, logs):
        self.lab, self.net, self.lb, self.logs = lab, net, lb, logs


@pytest.fixture(scope="module")
def dr_ftp(ftp_file):
    lab = Lab("ftpd")
    try:
        net = t.build(lab, "dr", workers=1)
        logs = {}
        for name, (ns, _) in net.servers.items():
            _, logs[name], _ = ftp.start_vsftpd(lab, ns, name, {"file.bin": ftp_file[0]})
        svc = {"name": "ftp", "vip": t.VIP, "protocol": "tcp",
               "ports": [21, 20, "10000-10100"], "scheduler": "rr", "forwarding": "dr",
               "persistence": {"timeout": "300s"},
               "real_servers": [{"address": a} for _, a in net.servers.values()]}
        lb = t.Balancer(net, t.base_config(net, [svc]))
        yield FtpEnv(lab, net, lb, logs)
    finally:
        lab.cleanup()


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@pytest.mark.parametrize("mode", list(ftp.CURL_MODES))
def test_curl_lists_and_downloads(dr_ftp, ftp_file, mode):
    env = dr_ftp
    client = env.net.client("c1")
    for session in range(SESSIONS):
        listing = ftp.curl_list(env.lab, client, t.VIP, mode)
        assert listing.returncode == 0, listing.stderr
        servers = [n for n in ("rs1", "rs2") if f"served-by-{n}" in listing.stdout]
        assert len(servers) == 1, listing.stdout
        out = os.path.join(env.lab.tmp, f"curl-{mode}-{session}.bin")
        r = ftp.curl_get(env.lab, client, t.VIP, mode, "file.bin", out)
        assert r.returncode == 0, (mode, session, r.stderr)
        assert sha256(out) == ftp_file[1]
        os.unlink(out)


@pytest.mark.parametrize("mode", list(ftp.LFTP_MODES))
def test_lftp_lists_and_downloads(dr_ftp, ftp_file, mode):
    env = dr_ftp
    client = env.net.client("c2")
    for session in range(SESSIONS):
        out = os.path.join(env.lab.tmp, f"lftp-{mode}-{session}.bin")
        r = ftp.lftp_session(env.lab, client, t.VIP, mode, f"cls -1; get file.bin -o {out}")
        assert r.returncode == 0, (mode, session, r.stdout, r.stderr)
        assert sum(f"served-by-{n}" in r.stdout for n in ("rs1", "rs2")) == 1, r.stdout
        assert sha256(out) == ftp_file[1]
        os.unlink(out)


def test_each_client_stays_on_one_server(dr_ftp):
    """Both clients' control and data connections: each client's listings name one server,
    and the servers' transfer logs hold exactly the downloads each client made."""
    env = dr_ftp
    seen = {}
    for client in ("c1", "c2"):
        names = set()
        for mode in ftp.CURL_MODES:
            r = ftp.curl_list(env.lab, env.net.client(client), t.VIP, mode)
            assert r.returncode == 0, r.stderr
            names |= {n for n in ("rs1", "rs2") if f"served-by-{n}" in r.stdout}
        assert len(names) == 1, (client, names)
        seen[client] = names.pop()
    # rr with persistence: the two clients' first connections went to different servers.
    assert seen["c1"] != seen["c2"], seen


def test_four_clients_each_stay_on_one_server_by_the_transfer_logs(dr_ftp, ftp_file):
    """Four client addresses, passive and active sessions each: every file a client fetched is
    in exactly one server's transfer log, the same server for all of that client's sessions."""
    env = dr_ftp
    clients = {"198.51.100.30": "c1", "198.51.100.31": "c1", "198.51.100.40": "c2",
               "198.51.100.41": "c2"}
    for address, ns in clients.items():
        env.lab.run(env.net.client(ns), "ip", "addr", "add", f"{address}/24", "dev", "eth0")
    for address, ns in clients.items():
        for mode in ("PASV", "PORT", "EPSV", "EPRT"):
            out = os.path.join(env.lab.tmp, f"aff-{address}-{mode}.bin")
            r = ftp.curl_get(env.lab, env.net.client(ns), t.VIP, mode, "file.bin", out,
                             source=address)
            assert r.returncode == 0, (address, mode, r.stderr)
            assert sha256(out) == ftp_file[1]
            os.unlink(out)
    for address in clients:
        servers = {name for name, log in env.logs.items()
                   if any(host == address for host, _, _ in ftp.served(log))}
        assert len(servers) == 1, (address, servers)
        count = sum(host == address for log in env.logs.values()
                    for host, _, _ in ftp.served(log))
        assert count == 4, (address, count)


def test_active_mode_answers_without_a_session_are_dropped(dr_ftp):
    """A SYN-ACK to VIP:20 from a client with no persistence template is dropped, counted."""
    env = dr_ftp
    before = env.lb.stats()["drops_total"]["no_persistence_template"]
    # From the server namespace's point of view nothing is open: craft the SYN-ACK with a
    # raw socket from a client address that never connected (c2's address is persistent, so
    # use a fresh source address on c1).
    ns = env.net.client("c1")
    env.lab.run(ns, "ip", "addr", "add", "198.51.100.50/24", "dev", "eth0")
    script = (
        "import socket, struct\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)\n"
        "src, dst = socket.inet_aton('198.51.100.50'), socket.inet_aton('%s')\n"
        "tcp = struct.pack('!HHIIBBHHH', 40000, 20, 1, 1, 5 << 4, 0x12, 65535, 0, 0)\n"
        "pseudo = src + dst + struct.pack('!BBH', 0, 6, len(tcp))\n"
        "data = pseudo + tcp\n"
        "total = sum(struct.unpack('!%%dH' %% (len(data) // 2), data))\n"
        "while total >> 16: total = (total & 0xffff) + (total >> 16)\n"
        "tcp = tcp[:16] + struct.pack('!H', ~total & 0xffff) + tcp[18:]\n"
        "s.bind(('198.51.100.50', 0))\n"
        "s.sendto(tcp, ('%s', 0))\n" % (t.VIP, t.VIP))
    env.lab.run(ns, "/usr/bin/python3", "-c", script)
    assert t.wait_for(
        lambda: env.lb.stats()["drops_total"]["no_persistence_template"] == before + 1, 5)


def test_after_the_persistence_timeout_a_client_may_land_elsewhere(ftp_file):
    """Persistence 2 s, nothing alive: with rr, a few rounds of expiry and a new session reach
    both servers (each session's control and data connections still on one)."""
    lab = Lab("ftpt")
    try:
        net = t.build(lab, "dr", workers=1)
        for name, (ns, _) in net.servers.items():
            ftp.start_vsftpd(lab, ns, name, {"file.bin": ftp_file[0]})
        svc = {"name": "ftp", "vip": t.VIP, "protocol": "tcp",
               "ports": [21, 20, "10000-10100"], "scheduler": "rr", "forwarding": "dr",
               "persistence": {"timeout": "2s"},
               "real_servers": [{"address": a} for _, a in net.servers.values()]}
        lb = t.Balancer(net, t.base_config(net, [svc], {"tcp_fin": "1s", "tcp_close": "1s"}))
        seen = set()
        for _ in range(4):
            r = ftp.curl_list(lab, net.client("c1"), t.VIP, "PASV")
            assert r.returncode == 0, r.stderr
            names = {n for n in ("rs1", "rs2") if f"served-by-{n}" in r.stdout}
            assert len(names) == 1
            seen |= names
            if len(seen) == 2:
                break
            assert t.wait_for(lambda: lb.stats()["persistence_templates"] == 0, timeout=20)
        assert seen == {"rs1", "rs2"}
    finally:
        lab.cleanup()
