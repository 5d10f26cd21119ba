"""FTP through the balancer in NAT mode, with the FTP helper: the service is port 21 only, so
every data connection reaches its control connection's real server through the helper alone
(227/229 expectations, PORT/EPRT mappings), with the real servers' 227 replies rewritten from
203.0.113.x to the VIP (a text two characters longer: sequence numbers are renumbered for the
rest of the session). Downloads and uploads, curl and lftp, each mode."""

import hashlib
import os
import subprocess

import pytest

import ftp
import topology as t
from netlab import Lab

SESSIONS = int(os.environ.get("LB_E2E_FTP_SESSIONS", "10"))


class FtpEnv:
    def __init__(self, lab, net, lb, roots):
        self.lab, self.net, self.lb, self.roots = lab, net, lb, roots


def start(ftp_file, advertise_vip):
    lab = Lab("ftpn")
    try:
        net = t.build(lab, "nat", workers=1)
        roots = {}
        for name, (ns, _) in net.servers.items():
            _, _, roots[name] = ftp.start_vsftpd(lab, ns, name, {"file.bin": ftp_file[0]},
                                                 pasv_address=t.VIP if advertise_vip else None,
                                                 write=True)
        svc = {"name": "ftp", "vip": t.VIP, "protocol": "tcp", "port": 21, "scheduler": "rr",
               "forwarding": "nat",
               "real_servers": [{"address": a} for _, a in net.servers.values()]}
        lb = t.Balancer(net, t.base_config(net, [svc]))
    except BaseException:
        lab.cleanup()  # the caller's finally never runs when start() itself fails
        raise
    return FtpEnv(lab, net, lb, roots)


@pytest.fixture(scope="module")
def nat_ftp(ftp_file):
    env = start(ftp_file, advertise_vip=False)
    try:
        yield env
    finally:
        env.lab.cleanup()


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def uploaded(env, name):
    """The server that holds upload/`name`, and the file's sha256."""
    for server, root in env.roots.items():
        path = os.path.join(root, "upload", name)
        if os.path.exists(path):
            return server, sha256(path)
    return None, None


@pytest.mark.parametrize("mode", list(ftp.CURL_MODES))
def test_curl_list_download_upload(nat_ftp, ftp_file, mode):
    env = nat_ftp
    client = env.net.client("c1")
    for session in range(SESSIONS):
        listing = ftp.curl_list(env.lab, client, t.VIP, mode)
        assert listing.returncode == 0, (mode, session, listing.stderr)
        assert sum(f"served-by-{n}" in listing.stdout for n in ("rs1", "rs2")) == 1
        out = os.path.join(env.lab.tmp, f"curl-{mode}-{session}.bin")
        r = ftp.curl_get(env.lab, client, t.VIP, mode, "file.bin", out)
        assert r.returncode == 0, (mode, session, r.stderr)
        assert sha256(out) == ftp_file[1]
        os.unlink(out)
        name = f"curl-{mode}-{session}.bin"
        r = env.lab.run(client, "curl", "-sS", "--max-time", "120", *ftp.CURL_MODES[mode],
                        "-T", ftp_file[0], f"ftp://{t.VIP}/upload/{name}", check=False,
                        timeout=150)
        assert r.returncode == 0, (mode, session, r.stderr)
        server, digest = uploaded(env, name)
        assert server and digest == ftp_file[1], (server, name)
    stats = env.lb.stats()["ftp"]
    assert stats["malformed_total"] == 0 and stats["not_rewritable_total"] == 0, stats
    if mode == "PASV":
        assert stats["pasv_rewritten_total"] >= 2 * SESSIONS, stats
    if mode in ("PORT", "EPRT"):
        assert stats["active_connections_total"] >= 2 * SESSIONS, stats


@pytest.mark.parametrize("mode", list(ftp.LFTP_MODES))
def test_lftp_list_download_upload(nat_ftp, ftp_file, mode):
    env = nat_ftp
    client = env.net.client("c2")
    for session in range(SESSIONS):
        out = os.path.join(env.lab.tmp, f"lftp-{mode}-{session}.bin")
        name = f"lftp-{mode}-{session}.bin"
        r = ftp.lftp_session(env.lab, client, t.VIP, mode,
                             f"cls -1; get file.bin -o {out}; put {ftp_file[0]} -o upload/{name}")
        assert r.returncode == 0, (mode, session, r.stdout, r.stderr)
        assert sum(f"served-by-{n}" in r.stdout for n in ("rs1", "rs2")) == 1, r.stdout
        assert sha256(out) == ftp_file[1]
        os.unlink(out)
        server, digest = uploaded(env, name)
        assert server and digest == ftp_file[1], (server, name)


def test_eight_clients_at_once_in_mixed_modes(nat_ftp, ftp_file):
    env = nat_ftp
    jobs = []
    modes = [("curl", "PASV"), ("curl", "EPSV"), ("curl", "PORT"), ("curl", "EPRT"),
             ("lftp", "PASV"), ("lftp", "EPSV"), ("lftp", "PORT"), ("curl", "PASV")]
    for i, (tool, mode) in enumerate(modes):
        ns = env.net.client("c1" if i % 2 == 0 else "c2")
        address = f"198.51.100.{50 + i}"
        env.lab.run(ns, "ip", "addr", "add", f"{address}/24", "dev", "eth0")
        out = os.path.join(env.lab.tmp, f"parallel-{i}.bin")
        make = ftp.curl_get_command if tool == "curl" else ftp.lftp_get_command
        p = subprocess.Popen(make(ns, t.VIP, mode, "file.bin", out, address),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
        env.lab.processes.append(p)  # killed by PID at cleanup if anything goes wrong
        jobs.append((tool, mode, out, p))
    for tool, mode, out, p in jobs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, (tool, mode, err)
        assert sha256(out) == ftp_file[1], (tool, mode)
        os.unlink(out)


def test_a_server_advertising_the_vip_needs_no_rewrite(ftp_file):
    env = start(ftp_file, advertise_vip=True)
    try:
        client = env.net.client("c1")
        for mode in ("PASV", "EPSV"):
            out = os.path.join(env.lab.tmp, f"vip-{mode}.bin")
            r = ftp.curl_get(env.lab, client, t.VIP, mode, "file.bin", out)
            assert r.returncode == 0, r.stderr
            assert sha256(out) == ftp_file[1]
        stats = env.lb.stats()["ftp"]
        assert stats["pasv_rewritten_total"] == 0 and stats["pasv_unchanged_total"] >= 1, stats
    finally:
        env.lab.cleanup()
