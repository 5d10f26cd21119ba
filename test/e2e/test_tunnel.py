"""End to end: tunnel forwarding (`forwarding: tunnel`, IPIP). The real servers sit on another
subnet, behind a router; lb reaches them through its interface's gateway, in IPIP, and they reply
to the clients directly, through the router, never through lb.

    clients c1 .10, c2 .11, c3 .12 ─┐
    lb ext0 198.51.100.2 ───────────┼─ bridge ext ── router 198.51.100.1 | 203.0.113.1 ── bridge int
                                    │                                       rs1 203.0.113.11, rs2 .12

Each real server holds the VIP on lo and decapsulates IPIP: with the kernel's ipip device when
the kernel has it, else (CONFIG_NET_IPIP unset, as on the development machine) with
ipip_decap.py, which checks each outer header and hands the inner packet to the kernel through a
TUN device. rp_filter is off (the client's packets arrive on the tunnel, its route is eth0).
"""

import hashlib
import os
import socket
import subprocess
import time

import pytest

import topology as t
from netlab import Lab

VIP = t.VIP
CLIENTS = {"c1": "198.51.100.10", "c2": "198.51.100.11", "c3": "198.51.100.12"}
SERVERS = {"rs1": "203.0.113.11", "rs2": "203.0.113.12"}
DOWNLOAD_MB = int(os.environ.get("LB_E2E_TUNNEL_FILE_MB", "100"))
HERE = os.path.dirname(os.path.abspath(__file__))

# A TCP sink: for each connection, the sha256 of everything received, sent back at EOF.
SINK = """
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); h = hashlib.sha256()
    while (b := c.recv(1 << 16)):
        h.update(b)
    c.sendall(h.hexdigest().encode()); c.close()
"""


class TunnelNet:
    """What topology.Network offers the Balancer, for this topology."""

    def __init__(self, lab):
        self.lab, self.mode, self.workers = lab, "tunnel", 1
        self.clients, self.servers, self.decap = {}, {}, {}
        self.lb_ns = None

    def client(self, name="c1"):
        return self.clients[name]


def kernel_ipip(lab, ns, address):
    """The kernel's own decapsulation, where the kernel has the ipip module."""
    r = lab.run(ns, "ip", "link", "add", "tnl0", "type", "ipip", "local", address, check=False)
    if r.returncode != 0:
        return None
    return "tnl0"


def user_space_ipip(lab, ns):
    status = os.path.join(lab.tmp, f"decap-{ns}.status")
    p = lab.spawn(ns, "/usr/bin/python3", os.path.join(HERE, "ipip_decap.py"), "lbt0", status)
    assert t.wait_for(lambda: os.path.exists(status), timeout=10), "ipip_decap.py did not start"
    return "lbt0", (p, status)


def tunnel_real_server(lab, name, bridge, address, gateway, vip):
    """A real server for forwarding: tunnel on `bridge` (address/prefix, default route via
    `gateway`): the VIP on lo, ARP kept quiet about it, IPIP decapsulated (the kernel's device
    or ipip_decap.py), rp_filter off for the inner packets. Returns (namespace, user-space
    decapsulator or None)."""
    ns = lab.add_namespace(name)
    for key, value in (("arp_ignore", 1), ("arp_announce", 2), ("rp_filter", 0)):
        lab.run(ns, "sysctl", "-qw", f"net.ipv4.conf.all.{key}={value}")
    lab.run(ns, "sysctl", "-qw", "net.ipv4.conf.default.rp_filter=0")
    lab.link(ns, "eth0", bridge, address, gateway=gateway)
    lab.run(ns, "ip", "addr", "add", f"{vip}/32", "dev", "lo")
    decap = None
    device = kernel_ipip(lab, ns, address.split("/")[0])
    if device is None:
        device, decap = user_space_ipip(lab, ns)
    lab.run(ns, "sysctl", "-qw", f"net.ipv4.conf.{device}.rp_filter=0")
    lab.run(ns, "ip", "link", "set", device, "up")
    return ns, decap


def build(lab):
    net = TunnelNet(lab)
    lab.add_bridge("ext")
    lab.add_bridge("int")
    for name, addr in CLIENTS.items():
        ns = lab.add_namespace(name)
        lab.link(ns, "eth0", "ext", f"{addr}/24")
        net.clients[name] = ns
    router = lab.add_namespace("rt")
    lab.link(router, "eth0", "ext", "198.51.100.1/24")
    lab.link(router, "eth1", "int", "203.0.113.1/24")
    lab.run(router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    for key in ("all", "default", "eth0", "eth1"):
        lab.run(router, "sysctl", "-qw", f"net.ipv4.conf.{key}.rp_filter=0")
    for name, addr in SERVERS.items():
        ns, decap = tunnel_real_server(lab, name, "int", f"{addr}/24", "203.0.113.1", VIP)
        if decap:
            net.decap[name] = decap
        net.servers[name] = (ns, addr)
    net.lb_ns = lab.add_namespace("lb")
    lab.dpdk_link(net.lb_ns, "ext0", "ext")
    return net


def config(net):
    return {
        "node": {"name": "lb-tunnel"},
        "dpdk": {"eal_args": ["--no-pci", "--in-memory", "--log-level=*:warning",
                              "--vdev=net_af_packet0,iface=ext0"], "workers": 1},
        "interfaces": [{"name": "ext", "device": "net_af_packet0", "address": "198.51.100.2/24",
                        "gateway": "198.51.100.1", "mtu": 1500}],
        "services": [
            {"name": name, "vip": VIP, "protocol": protocol, "port": port, "scheduler": "rr",
             "forwarding": "tunnel",
             "real_servers": [{"address": a} for a in SERVERS.values()]}
            for name, protocol, port in (("web", "tcp", 80), ("sink", "tcp", 9000),
                                         ("echo", "udp", 5353))],
        "tables": {"connections": 65536, "persistence_templates": 1024},
        "stats": {"file": os.path.join(net.lab.tmp, "stats.json"), "interval": "200ms"},
        "admin": {"socket": os.path.join(net.lab.tmp, "lb.sock")},
    }


@pytest.fixture(scope="module")
def download(tmp_path_factory):
    path = tmp_path_factory.mktemp("tunnel") / "big.bin"
    with open(path, "wb") as f:
        for _ in range(DOWNLOAD_MB):
            f.write(os.urandom(1 << 20))
    with open(path, "rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    yield str(path), digest
    path.unlink()


@pytest.fixture(scope="module")
def env(download):
    lab = Lab("tunl")
    try:
        net = build(lab)
        for name, (ns, _) in net.servers.items():
            lab.http_server(ns, name, 80, files={"big.bin": download[0]})
            lab.spawn(ns, "/usr/bin/python3", "-c", SINK, "9000")
            lab.wait_for_port(ns, 9000)
            lab.udp_echo_server(ns, name, 5353, bind=VIP)
        lb = t.Balancer(net, config(net))
        yield lab, net, lb
        # The user-space decapsulators report what they saw (SIGTERM writes the status).
        for name, (process, status) in net.decap.items():
            lab.stop(process)
            with open(status) as f:
                words = f.read().split()
            print(name, " ".join(words))
            assert words[0] == "decapsulated" and int(words[1]) > 0, (name, words)
            assert words[3] == "0", f"{name}: lb sent outer headers a kernel refuses: {words}"
    finally:
        lab.cleanup()


def service_stats(lb, name):
    return next(s for s in lb.stats()["services"] if s["name"] == name)


def test_decapsulation_in_use(env):
    """Says which decapsulation the real servers use (the kernel's ipip, or ipip_decap.py)."""
    _, net, _ = env
    print("ipip decapsulation:", "user space (no ipip in this kernel)" if net.decap else "kernel")


def test_a_download_arrives_intact_and_its_data_bypasses_the_balancer(env, download):
    lab, net, lb = env
    before = lb.stats()
    out = os.path.join(lab.tmp, "download.bin")
    r = t.curl(net, "c1", f"http://{VIP}/big.bin", "-o", out, timeout=300)
    assert r.returncode == 0, r.stderr
    with open(out, "rb") as f:
        got = hashlib.file_digest(f, "sha256").hexdigest()
    size = os.path.getsize(out)
    os.unlink(out)
    assert got == download[1]
    after = lb.stats()
    web = service_stats(lb, "web")
    # lb saw the client's side only (its ACKs), a small fraction of the file, and sent nothing
    # back to the client: the data came from the real server through the router.
    received = after["rx_bytes_total"] - before["rx_bytes_total"]
    print(f"downloaded {size} bytes; lb received {received} bytes of it "
          f"({web['packets_in_total']} packets into the tunnel, {web['packets_out_total']} out)")
    assert 0 < received < size / 10, (received, size)
    assert web["packets_out_total"] == 0
    assert web["packets_in_total"] > 0
    assert after["drops_total"]["too_big_for_tunnel"] == before["drops_total"]["too_big_for_tunnel"]


def test_rr_reaches_both_routed_servers(env):
    _, net, _ = env
    bodies = t.fetch_many(net, "c1", f"http://{VIP}/whoami", 20)
    assert sorted(set(bodies)) == ["rs1", "rs2"] and len(bodies) == 20, bodies


def test_a_full_size_tcp_segment_gets_frag_needed_and_the_upload_converges(env):
    """The real server advertises MSS 1460: the client's first full segments are 1500-byte IP
    packets with DF, 1520 in the tunnel. lb answers each with ICMP fragmentation needed (MTU
    1480) from the VIP; the client's TCP lowers its segment size and the upload completes."""
    lab, net, lb = env
    before = lb.stats()
    data = os.urandom(4 << 20)
    path = os.path.join(lab.tmp, "upload.bin")
    with open(path, "wb") as f:
        f.write(data)
    client = ("import socket, sys\n"
              f"s = socket.create_connection(('{VIP}', 9000), timeout=60)\n"
              f"s.sendall(open('{path}', 'rb').read()); s.shutdown(socket.SHUT_WR)\n"
              "print(s.recv(100).decode())\n")
    r = lab.run(net.client("c2"), "/usr/bin/python3", "-c", client, check=False, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == hashlib.sha256(data).hexdigest()
    after = lb.stats()
    route = lab.run(net.client("c2"), "ip", "route", "get", VIP).stdout
    sent = after["icmp_frag_needed_total"] - before["icmp_frag_needed_total"]
    too_big = after["drops_total"]["too_big_for_tunnel"] - before["drops_total"]["too_big_for_tunnel"]
    print(f"ICMP fragmentation needed sent: {sent}; client route: {route.strip()}")
    assert sent >= 1 and sent == too_big, (sent, too_big)
    # The client's stack accepted the error: it keeps the path MTU to the VIP.
    assert "mtu 1480" in route, route


UDP_PROBE = """
import socket, sys, time
df = sys.argv[1] == "df"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 10, 2 if df else 0)  # IP_MTU_DISCOVER: DO / DONT
s.connect(("%s", 5353))
s.settimeout(1.5)
s.send(b"x" * 1472)  # a 1500-byte IP packet: 1520 in the tunnel
try:
    print("answer", s.recv(100).decode().strip())
except OSError as e:
    print("no answer", type(e).__name__)
time.sleep(0.3)
print("mtu", s.getsockopt(socket.IPPROTO_IP, 14))  # IP_MTU: the path MTU the kernel keeps
s.send(b"small")
print("small", s.recv(100).decode().strip())
""" % VIP


def test_a_big_udp_datagram_without_df_is_dropped_and_counted_with_df_answered(env):
    lab, net, lb = env
    before = lb.stats()
    r = lab.run(net.client("c3"), "/usr/bin/python3", "-c", UDP_PROBE, "nodf", check=False)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # Not forwarded (lb does not fragment), nothing told to the client: its path MTU stays.
    assert lines[0].startswith("no answer"), lines
    assert lines[1] == "mtu 1500", lines
    assert lines[2].startswith("small rs"), lines  # the service itself works
    mid = lb.stats()
    assert mid["drops_total"]["too_big_for_tunnel_no_df"] - \
        before["drops_total"]["too_big_for_tunnel_no_df"] == 1
    assert mid["icmp_frag_needed_total"] == before["icmp_frag_needed_total"]

    r = lab.run(net.client("c3"), "/usr/bin/python3", "-c", UDP_PROBE, "df", check=False)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    # With DF the client learns the tunnel's MTU from lb's ICMP error (from the VIP).
    assert lines[0].startswith("no answer"), lines
    assert lines[1] == "mtu 1480", lines
    after = lb.stats()
    assert after["drops_total"]["too_big_for_tunnel"] - mid["drops_total"]["too_big_for_tunnel"] == 1
    assert after["icmp_frag_needed_total"] - mid["icmp_frag_needed_total"] == 1
