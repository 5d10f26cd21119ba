"""Fixtures for the end-to-end tests: labs of network namespaces with real servers and a
running lb, torn down (namespaces and processes by PID) whatever the outcome."""

import hashlib
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))

import topology as t  # noqa: E402
from netlab import Lab  # noqa: E402

FAST_TIMEOUTS = {"tcp_fin": "1s", "tcp_close": "1s", "tcp_syn": "5s", "udp": "2s"}
BIG_FILE_MB = int(os.environ.get("LB_E2E_BIG_FILE_MB", "200"))


def pytest_configure(config):
    if os.geteuid() != 0:
        pytest.exit("the end-to-end tests need root (network namespaces, hugepages)", 2)
    if not os.access(t.LB, os.X_OK):
        pytest.exit(f"{t.LB} is not built: run scripts/setup", 2)


@pytest.fixture(scope="session")
def big_file(tmp_path_factory):
    """A file of random bytes to download, and its sha256."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    subprocess.run(["head", "-c", f"{BIG_FILE_MB}M", "/dev/urandom"], stdout=open(path, "wb"),
                   check=True)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    yield str(path), digest
    path.unlink()


@pytest.fixture(scope="session")
def ftp_file(tmp_path_factory):
    """The file the FTP tests list, fetch and upload, and its sha256."""
    path = tmp_path_factory.mktemp("ftp") / "file.bin"
    with open(path, "wb") as f:
        f.write(os.urandom(int(os.environ.get("LB_E2E_FTP_FILE_MB", "50")) << 20))
    os.chmod(path, 0o644)
    yield str(path), hashlib.sha256(path.read_bytes()).hexdigest()
    path.unlink()


class Env:
    def __init__(self, lab, net, lb, hugepage_files_before):
        self.lab, self.net, self.lb = lab, net, lb
        self.hugepage_files_before = hugepage_files_before


def nat_services(net):
    s = t.service
    return [
        s(net, "web", 80, backend_port=8080),
        s(net, "weighted", 83, "wrr", weights=(3, 1), backend_port=8080),
        s(net, "sticky", 81, backend_port=8080, persistence={"timeout": "2s"}),
        s(net, "sticky24", 82, backend_port=8080,
          persistence={"timeout": "2s", "netmask": "255.255.255.0"}),
        s(net, "echo", 5353, protocol="udp"),
    ]


def start(lab, mode, workers, big_file):
    before = t.hugepage_files()
    net = t.build(lab, mode, workers)
    ports = [8080] if mode == "nat" else [80, 81, 82, 83]
    for name, (ns, _) in net.servers.items():
        for port in ports:
            lab.http_server(ns, name, port, files={"big.bin": big_file[0]})
        lab.udp_echo_server(ns, name, 5353, bind=t.VIP if mode == "dr" else None)
    services = nat_services(net)
    if mode == "dr":
        for svc in services:
            for rs in svc["real_servers"]:
                rs.pop("port", None)
    lb = t.Balancer(net, t.base_config(net, services, FAST_TIMEOUTS))
    return Env(lab, net, lb, before)


@pytest.fixture(scope="module", params=[("nat", 1), ("dr", 1), ("nat", 2), ("dr", 2)],
                ids=["nat-1worker", "dr-1worker", "nat-2workers", "dr-2workers"])
def env(request, big_file):
    """A running lb with two real servers; NAT and DR, one worker and two (qpairs=2)."""
    mode, workers = request.param
    lab = Lab(mode)
    try:
        yield start(lab, mode, workers, big_file)
    finally:
        lab.cleanup()
