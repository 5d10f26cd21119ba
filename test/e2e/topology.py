"""The virtual networks the end-to-end tests and the demo run on, and a handle on a running lb.

NAT:   clients 198.51.100.10/.11 ── bridge ext ── lb ext0 (198.51.100.2)
                                                  lb int0 (203.0.113.1) ── bridge int ── rs1 .11, rs2 .12
       real servers route through 203.0.113.1, so replies come back through lb.
DR:    clients, lb and real servers on one bridge 198.51.100.0/24; real servers hold the VIP on
       loopback (arp_ignore=1, arp_announce=2) and answer clients directly.
"""

import json
import os
import signal
import subprocess
import time

import yaml_emit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LB = os.environ.get("LB_BINARY", os.path.join(ROOT, "build", "lb", "lb"))
LBCTL = os.environ.get("LBCTL_BINARY", os.path.join(os.path.dirname(LB), "lbctl"))

VIP = "198.51.100.100"
CLIENTS = {"c1": "198.51.100.10", "c2": "198.51.100.11"}
NAT_SERVERS = {"rs1": "203.0.113.11", "rs2": "203.0.113.12"}
DR_SERVERS = {"rs1": "198.51.100.21", "rs2": "198.51.100.22"}


class Network:
    def __init__(self, lab, mode, workers):
        self.lab, self.mode, self.workers = lab, mode, workers
        self.clients, self.servers = {}, {}
        self.lb_ns = None

    def client(self, name="c1"):
        return self.clients[name]


def build(lab, mode="nat", workers=1):
    net = Network(lab, mode, workers)
    lab.add_bridge("ext")
    for name, addr in CLIENTS.items():
        ns = lab.add_namespace(name)
        lab.link(ns, "eth0", "ext", f"{addr}/24")
        net.clients[name] = ns
    net.lb_ns = lab.add_namespace("lb")
    # The balancer's veths carry no address: the kernel must not answer for it.
    lab.dpdk_link(net.lb_ns, "ext0", "ext")
    if mode == "nat":
        lab.add_bridge("int")
        lab.dpdk_link(net.lb_ns, "int0", "int")
        for name, addr in NAT_SERVERS.items():
            ns = lab.add_namespace(name)
            lab.link(ns, "eth0", "int", f"{addr}/24", gateway="203.0.113.1")
            net.servers[name] = (ns, addr)
    else:
        for name, addr in DR_SERVERS.items():
            ns = lab.add_namespace(name)
            lab.run(ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1")
            lab.run(ns, "sysctl", "-qw", "net.ipv4.conf.all.arp_announce=2")
            lab.link(ns, "eth0", "ext", f"{addr}/24")
            lab.run(ns, "ip", "addr", "add", f"{VIP}/32", "dev", "lo")
            net.servers[name] = (ns, addr)
    return net


def eal_args(net, prefix):
    q = f",qpairs={net.workers}" if net.workers > 1 else ""
    args = ["--no-pci", "--in-memory", "--log-level=*:warning",
            f"--vdev=net_af_packet0,iface=ext0{q}"]
    if net.mode == "nat":
        args.append(f"--vdev=net_af_packet1,iface=int0{q}")
    return args


def base_config(net, services, timeouts=None):
    interfaces = [{"name": "ext", "device": "net_af_packet0", "address": "198.51.100.2/24"}]
    if net.mode == "nat":
        interfaces.append({"name": "int", "device": "net_af_packet1",
                           "address": "203.0.113.1/24"})
    cfg = {
        "node": {"name": "lb-test"},
        "dpdk": {"eal_args": eal_args(net, net.lab.prefix), "workers": net.workers},
        "interfaces": interfaces,
        "services": services,
        "tables": {"connections": 65536, "persistence_templates": 16384},
        "stats": {"file": os.path.join(net.lab.tmp, "stats.json"), "interval": "200ms"},
        "admin": {"socket": os.path.join(net.lab.tmp, "lb.sock")},
    }
    if timeouts:
        cfg["timeouts"] = timeouts
    return cfg


def service(net, name, port, scheduler="rr", protocol="tcp", weights=(1, 1), backend_port=None,
            persistence=None):
    servers = []
    for (_, addr), w in zip(net.servers.values(), weights):
        rs = {"address": addr, "weight": w}
        if backend_port and net.mode == "nat":
            rs["port"] = backend_port
        servers.append(rs)
    s = {"name": name, "vip": VIP, "protocol": protocol, "port": port, "scheduler": scheduler,
         "forwarding": net.mode, "real_servers": servers}
    if persistence:
        s["persistence"] = persistence
    return s


class Balancer:
    """A running lb process inside the lab's lb namespace (or `namespace`)."""

    def __init__(self, net, config=None, config_path=None, stats_path=None, namespace=None,
                 workdir=None, env=None, wait=True):
        """Starts lb with `config` (a dict, written to `workdir`, by default the lab's directory)
        or with the file `config_path` whose stats file is `stats_path`; `env`: its environment
        (by default ours); with `wait` false, returns at once, before lb is up."""
        self.net = net
        workdir = workdir or net.lab.tmp
        self.log_path = os.path.join(workdir, "lb.log")
        self.socket = (config or {}).get("admin", {}).get("socket", "/run/lb/lb.sock")
        if config is not None:
            self.config_path = os.path.join(workdir, "lb.yaml")
            self.stats_path = config["stats"]["file"]
            with open(self.config_path, "w") as f:
                f.write(yaml_emit.dump(config))
        else:
            self.config_path, self.stats_path = config_path, stats_path
            if os.path.exists(stats_path):
                os.unlink(stats_path)
        self.process = net.lab.spawn(namespace or net.lb_ns, LB, "--config", self.config_path,
                                     log=self.log_path, env=env)
        if wait:
            self._wait_ready()

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def _wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"lb exited with {self.process.returncode}:\n{self.log()}")
            if "forwarding with" in self.log() and os.path.exists(self.stats_path):
                return
            time.sleep(0.05)
        raise TimeoutError(f"lb did not start:\n{self.log()}")

    def stats(self):
        # Written every 200 ms; wait for a fresh one so counters include what just happened.
        before = os.stat(self.stats_path).st_mtime_ns
        deadline = time.time() + 5
        while time.time() < deadline and os.stat(self.stats_path).st_mtime_ns == before:
            time.sleep(0.02)
        with open(self.stats_path) as f:
            return json.load(f)

    def ctl(self, *args, timeout=30):
        """lbctl against this lb: (exit code, stdout, stderr)."""
        r = subprocess.run([LBCTL, "--socket", self.socket, *args], capture_output=True,
                           text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def rewrite_config(self, config):
        with open(self.config_path, "w") as f:
            f.write(yaml_emit.dump(config))

    def stop(self):
        """SIGTERM; returns (exit code, log)."""
        code = self.net.lab.stop(self.process, signal.SIGTERM, timeout=15)
        return code, self.log()


def curl(net, client, url, *extra, timeout=20):
    return net.lab.run(net.client(client), "curl", "-sS", "--max-time", str(timeout), *extra,
                       url, check=False, timeout=timeout + 30)


def fetch_many(net, client, url, count):
    """`count` sequential requests, each on a new TCP connection; returns the bodies."""
    urls = [url] * count
    r = net.lab.run(net.client(client), "curl", "-sS", "--max-time", "60", "-H",
                    "Connection: close", *urls, check=False, timeout=120)
    return r.stdout.split()


def hugepage_files():
    """Every file on every hugetlbfs mount: DPDK leaves its rtemap_* files there unless it runs
    --in-memory or with --huge-unlink."""
    files = set()
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if parts[2] == "hugetlbfs":
                for root, _, names in os.walk(parts[1]):
                    files |= {os.path.join(root, n) for n in names}
    return files


def wait_for(predicate, timeout=10, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
