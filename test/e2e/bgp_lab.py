"""Scale-out lab (issue 14): lb nodes announcing VIPs over BGP (BIRD 2 beside each lb) to a
router running BIRD 2 with ECMP into its kernel, DR real servers, and a client behind the router.

    client 192.0.2.10 ── bridge cli ── router eth0 192.0.2.1
                                       router eth1 198.51.100.1 ── bridge seg ──┬─ lb a .2
                                                                                ├─ lb b .3, c .4, d .5
                                                                                └─ rs1..rs3 .21-.23
                                       router eth2 203.0.113.1/26 ── bridge int ── ts1 .11, ts2 .12
    VIPs 203.0.113.100 (web, port 80) and 203.0.113.101 (alt, port 8080), scheduler mh, DR;
    203.0.113.102 (tun, port 80), scheduler mh, forwarding: tunnel to ts1 and ts2, a routed
    subnet behind the router (reached through the nodes' gateway, the router), which decapsulate
    IPIP (the kernel's ipip device, or test_tunnel's user-space decapsulator where the kernel
    has none) and answer the client directly.

Each lb runs in its own namespace with its kernel exception path (tap lb-ext) holding the
node's address; BIRD runs in the same namespace against the configuration lb wrote, with its
control socket in the node's directory. The router's BIRD has BFD (100 ms x 3) and
`merge paths on`; its kernel hashes on L4 (fib_multipath_hash_policy=1).
"""

import json
import os
import re
import signal

import topology as t
from test_tunnel import tunnel_real_server

ROUTER_SEG = "198.51.100.1"
ROUTER_CLI = "192.0.2.1"
CLIENT = "192.0.2.10"
NODES = {"a": "198.51.100.2", "b": "198.51.100.3", "c": "198.51.100.4", "d": "198.51.100.5"}
SERVERS = {"rs1": "198.51.100.21", "rs2": "198.51.100.22", "rs3": "198.51.100.23"}
VIP_WEB = "203.0.113.100"
VIP_ALT = "203.0.113.101"
VIP_TUN = "203.0.113.102"
ROUTER_INT = "203.0.113.1"
TUNNEL_SERVERS = {"ts1": "203.0.113.11", "ts2": "203.0.113.12"}
ROUTER_AS, NODE_AS = 65000, 65001
BIRD = "/usr/sbin/bird"


def router_bird_config():
    neighbors = "".join(
        f"protocol bgp lb_{name} from lbnode {{\n    neighbor {addr} as {NODE_AS};\n}}\n"
        for name, addr in NODES.items())
    return f"""router id {ROUTER_SEG};
log stderr all;
timeformat protocol iso short;
protocol device {{ scan time 10; }}
protocol kernel {{
    ipv4 {{ import none; export all; }};
    merge paths on;
}}
protocol bfd {{
    interface "eth1" {{ min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }};
}}
template bgp lbnode {{
    local {ROUTER_SEG} as {ROUTER_AS};
    direct;
    bfd on;
    hold time 9;
    keepalive time 3;
    connect delay time 1;
    connect retry time 2;
    error wait time 1, 10;
    ipv4 {{ import all; export none; }};
}}
{neighbors}"""


class BgpLab:
    def __init__(self, lab, big_file):
        self.lab = lab
        lab.add_bridge("seg")
        lab.add_bridge("cli")
        self.client = lab.add_namespace("cl")
        lab.link(self.client, "eth0", "cli", f"{CLIENT}/24", gateway=ROUTER_CLI)
        # Small receive buffers: a rate-limited curl then paces the TCP flow itself, which
        # lives as long as the download (with the default buffers the kernel would take the
        # whole file in a second and curl would only read it slowly).
        lab.run(self.client, "sysctl", "-qw", "net.ipv4.tcp_rmem=4096 32768 65536")
        self.router = lab.add_namespace("rt")
        lab.link(self.router, "eth0", "cli", f"{ROUTER_CLI}/24")
        lab.link(self.router, "eth1", "seg", f"{ROUTER_SEG}/24")
        lab.add_bridge("int")
        lab.link(self.router, "eth2", "int", f"{ROUTER_INT}/26")
        for key in ("ip_forward=1", "fib_multipath_hash_policy=1", "conf.all.rp_filter=0",
                    "conf.default.rp_filter=0"):
            lab.run(self.router, "sysctl", "-qw", f"net.ipv4.{key}")
        for name, addr in SERVERS.items():
            ns = lab.add_namespace(name)
            lab.run(ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1")
            lab.run(ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_announce=2")
            lab.link(ns, "eth0", "seg", f"{addr}/24", gateway=ROUTER_SEG)
            for vip in (VIP_WEB, VIP_ALT):
                lab.run(ns, "ip", "addr", "add", f"{vip}/32", "dev", "lo")
            for port in (80, 8080):
                lab.http_server(ns, name, port, files={"big.bin": big_file})
        for name, addr in TUNNEL_SERVERS.items():
            ns, _ = tunnel_real_server(lab, name, "int", f"{addr}/26", ROUTER_INT, VIP_TUN)
            lab.http_server(ns, name, 80, files={"big.bin": big_file})
        self.node_ns = {}
        for name in NODES:
            ns = lab.add_namespace(f"n{name}")
            lab.dpdk_link(ns, "ext0", "seg")
            self.node_ns[name] = ns
        rdir = os.path.join(lab.tmp, "router")
        os.makedirs(rdir)
        self.router_conf = os.path.join(rdir, "bird.conf")
        self.router_sock = os.path.join(rdir, "bird.ctl")
        with open(self.router_conf, "w") as f:
            f.write(router_bird_config())
        self.router_bird = lab.spawn(self.router, BIRD, "-f", "-c", self.router_conf, "-s",
                                     self.router_sock, "-P", os.path.join(rdir, "bird.pid"),
                                     log=os.path.join(rdir, "bird.log"))

    # -- the router's view ---------------------------------------------------------------------
    def next_hops(self, vip):
        """The router's kernel next hops for `vip`/32 (a set of node addresses)."""
        out = self.lab.run(self.router, "ip", "route", "show", f"{vip}/32", check=False).stdout
        return set(re.findall(r"via (\d+\.\d+\.\d+\.\d+)", out))

    def wait_next_hops(self, vip, nodes, timeout=30, interval=0.02):
        want = {NODES[n] for n in nodes}
        return t.wait_for(lambda: self.next_hops(vip) == want, timeout=timeout,
                          interval=interval)

    def birdc(self, *command):
        return self.lab.run(self.router, "birdc", "-s", self.router_sock, *command,
                            check=False).stdout

    # -- the client ------------------------------------------------------------------------------
    def whoami_many(self, vip, port, count):
        """`count` requests, each on a new connection (a new source port): the bodies."""
        urls = [f"http://{vip}:{port}/whoami"] * count
        r = self.lab.run(self.client, "curl", "-sS", "--max-time", "10", "-H",
                         "Connection: close", *urls, check=False, timeout=120)
        return r.stdout.split()


def node_config(bl, name, workdir, drain_timeout="3s"):
    addr = NODES[name]

    def service(svc, vip, port, forwarding="dr", servers=SERVERS, quorum=2):
        return {"name": svc, "vip": vip, "port": port, "scheduler": "mh",
                "forwarding": forwarding, "quorum": quorum,
                "health_check": {"type": "tcp", "interval": "300ms", "timeout": "200ms",
                                 "rise": 1, "fall": 2},
                "real_servers": [{"address": a} for a in servers.values()]}

    return {
        "node": {"name": f"lb-{name}"},
        "dpdk": {"eal_args": ["--no-pci", "--in-memory", "--log-level=*:warning",
                              "--vdev=net_af_packet0,iface=ext0"], "workers": 1},
        # The gateway: the tunnel's real servers are on a routed subnet behind the router.
        "interfaces": [{"name": "ext", "device": "net_af_packet0", "address": f"{addr}/24",
                        "gateway": ROUTER_SEG}],
        "services": [service("web", VIP_WEB, 80), service("alt", VIP_ALT, 8080),
                     service("tun", VIP_TUN, 80, "tunnel", TUNNEL_SERVERS, 1)],
        "timeouts": {"tcp_fin": "1s", "tcp_close": "1s", "tcp_syn": "5s"},
        "tables": {"connections": 16384, "persistence_templates": 1024},
        "stats": {"file": os.path.join(workdir, "stats.json"), "interval": "200ms",
                  "listen": "127.0.0.1:9100"},  # in the node's namespace
        "admin": {"socket": os.path.join(workdir, "lb.sock")},
        "bgp": {"local_as": NODE_AS,
                "neighbors": [{"address": ROUTER_SEG, "as": ROUTER_AS, "bfd": True}],
                "announce": "all",
                "socket": os.path.join(workdir, "bird.ctl"),
                "config": os.path.join(workdir, "bird.conf"),
                # Each node its own: the nodes share the host's /var/lib/lb.
                "drain_state_file": os.path.join(workdir, "node-drained"),
                "drain_timeout": drain_timeout,
                "bfd_interval": "100ms"},
    }


class Node(t.Balancer):
    """An lb node of the lab with its BIRD: started after lb wrote its configuration, or with
    `bird_first` before lb, on a placeholder file (as a BIRD started by systemd at boot would
    be), which lb replaces and has BIRD reload once it reaches BIRD's socket."""

    def __init__(self, bl, name, bird_first=False):
        self.bl, self.name = bl, name
        self.workdir = os.path.join(bl.lab.tmp, f"node-{name}")
        os.makedirs(self.workdir, exist_ok=True)
        self.config = node_config(bl, name, self.workdir)
        self.bird_conf = self.config["bgp"]["config"]
        sock = self.config["bgp"]["socket"]
        if bird_first:
            with open(self.bird_conf, "w") as f:
                f.write(f"router id {NODES[name]};\nprotocol device {{}}\n")
            self._start_bird(bl, name, sock)
            assert t.wait_for(lambda: os.path.exists(sock), timeout=10)
        super().__init__(bl, self.config, namespace=bl.node_ns[name], workdir=self.workdir)
        if not bird_first:
            assert t.wait_for(lambda: os.path.exists(self.bird_conf), timeout=10), self.log()
            self._start_bird(bl, name, sock)

    def _start_bird(self, bl, name, sock):
        self.bird = bl.lab.spawn(bl.node_ns[name], BIRD, "-f", "-c", self.bird_conf, "-s", sock,
                                 "-P", os.path.join(self.workdir, "bird.pid"),
                                 log=os.path.join(self.workdir, "bird.log"))

    def restart(self):
        """A clean stop (SIGTERM: BIRD withdraws first), then lb again with the same
        configuration in the same namespace, under the BIRD that kept running. The log of the
        run before is kept beside the new one."""
        code = self.bl.lab.stop(self.process, signal.SIGTERM, timeout=30)
        assert code == 0, self.log()
        os.replace(self.log_path, self.log_path + ".before-restart")
        t.Balancer.__init__(self, self.bl, self.config, namespace=self.bl.node_ns[self.name],
                            workdir=self.workdir)

    def start_bird(self):
        self._start_bird(self.bl, self.name, self.config["bgp"]["socket"])

    def bgp(self):
        code, out, err = self.ctl("--json", "bgp")
        assert code == 0, err
        return json.loads(out)

    def vip_state(self, vip):
        for v in self.bgp()["vips"]:
            if v["vip"] == vip:
                return v
        raise KeyError(vip)

    def connections_total(self, service):
        code, out, err = self.ctl("--json", "services")
        assert code == 0, err
        return next(s["connections_total"] for s in json.loads(out) if s["name"] == service)

    def connections(self):
        code, out, err = self.ctl("--json", "connections", "--limit", "100000")
        assert code == 0, err
        return json.loads(out)

    def metrics(self):
        """The node's Prometheus text, lb_bgp_* lines only."""
        out = self.bl.lab.run(self.bl.node_ns[self.name], "curl", "-sS",
                              "http://127.0.0.1:9100/metrics").stdout
        return [line for line in out.splitlines() if line.startswith("lb_bgp_")]

    def kill(self):
        self.bl.lab.stop(self.process, sig=9)
