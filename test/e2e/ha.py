"""Two-node (and keepalived) VRRP labs: nodes on one bridge with a client, and a handle on each
lb node that knows its own config, log, socket and VRRP state.

    client 198.51.100.10 ── bridge ext ── lb-a ext0 198.51.100.2
                                      ├── lb-b ext0 198.51.100.3
                                      └── (keepalived or an injector) 198.51.100.4
    VIP 198.51.100.100, VRID 51
"""

import json
import os
import re
import time

import topology as t

VIP = "198.51.100.100"
CLIENT = "198.51.100.10"
NODES = {"a": "198.51.100.2", "b": "198.51.100.3"}
PEER = "198.51.100.4"  # keepalived, or the bad-input injector
VRID = 51
VMAC = f"00:00:5e:00:01:{VRID:02x}"


INSIDE_NODES = {"a": "203.0.113.2", "b": "203.0.113.3"}
INSIDE_GATEWAY = "203.0.113.1"  # a VRRP address: the real server's default route
REAL_SERVER = "203.0.113.11"


class HaLab:
    def __init__(self, lab, nat=False, nodes=None):
        """With `nat`, a second bridge `int` joins both nodes (int0) and a real server whose
        default route is the VRRP gateway address. `nodes`: name -> address on ext, for more
        than the pair (NODES)."""
        self.lab, self.nat = lab, nat
        self.nodes = nodes or NODES
        lab.add_bridge("ext")
        self.client = lab.add_namespace("c1")
        lab.link(self.client, "eth0", "ext", f"{CLIENT}/24")
        self.node_ns = {}
        for name in self.nodes:
            ns = lab.add_namespace(f"lb{name}")
            lab.dpdk_link(ns, "ext0", "ext")
            self.node_ns[name] = ns
        self.peer_ns = None
        if nat:
            lab.add_bridge("int")
            for name in NODES:
                lab.dpdk_link(self.node_ns[name], "int0", "int")
            self.server = lab.add_namespace("rs1")
            lab.link(self.server, "eth0", "int", f"{REAL_SERVER}/24", gateway=INSIDE_GATEWAY)
            lab.http_server(self.server, "rs1", 8080)

    def add_peer(self):
        """A plain namespace at PEER (keepalived or the injector)."""
        self.peer_ns = self.lab.add_namespace("pe")
        self.lab.link(self.peer_ns, "eth0", "ext", f"{PEER}/24")
        return self.peer_ns

    def bridge_port(self, node):
        return self.lab.bridge_ports[(self.node_ns[node], "ext0")]


def instance(priority, advert_int="100ms", **extra):
    v = {"name": "vip", "interface": "ext", "virtual_router_id": VRID, "priority": priority,
         "advert_int": advert_int, "virtual_addresses": [VIP]}
    v.update(extra)
    return v


def node_config(ha, node, instances, vrrp_extra=None):
    tmp = os.path.join(ha.lab.tmp, node)
    os.makedirs(tmp, exist_ok=True)
    vrrp = {"instances": instances}
    vrrp.update(vrrp_extra or {})
    vdevs = ["--vdev=net_af_packet0,iface=ext0"]
    interfaces = [{"name": "ext", "device": "net_af_packet0",
                   "address": f"{ha.nodes[node]}/24"}]
    service = {"name": "web", "vip": VIP, "port": 80, "forwarding": "dr",
               "real_servers": [{"address": "198.51.100.21"}]}
    if ha.nat:
        vdevs.append("--vdev=net_af_packet1,iface=int0")
        interfaces.append({"name": "int", "device": "net_af_packet1",
                           "address": f"{INSIDE_NODES[node]}/24"})
        service.update(forwarding="nat", real_servers=[{"address": REAL_SERVER, "port": 8080}])
    return {
        "node": {"name": f"lb-{node}"},
        "dpdk": {"eal_args": ["--no-pci", "--in-memory", "--log-level=*:warning", *vdevs],
                 "workers": 1},
        "interfaces": interfaces,
        "services": [service],
        "tables": {"connections": 16384, "persistence_templates": 4096},
        "stats": {"file": os.path.join(tmp, "stats.json"), "interval": "200ms"},
        "admin": {"socket": os.path.join(tmp, "lb.sock")},
        "vrrp": vrrp,
    }


class Node(t.Balancer):
    """A running lb of the HA lab: a Balancer in the node's namespace and directory."""

    def __init__(self, ha, node, config, **kw):
        """`kw`: Balancer's `env` and `wait`."""
        self.ha, self.node, self.config = ha, node, config
        super().__init__(ha, config, namespace=ha.node_ns[node],
                         workdir=os.path.dirname(config["stats"]["file"]), **kw)

    def vrrp(self):
        code, out, err = self.ctl("--json", "vrrp")
        # With --json lbctl's own errors are on stdout: show both, and whether lb still runs.
        assert code == 0, (code, out, err, self.process.poll())
        return json.loads(out)

    def state(self, name="vip"):
        if self.process.poll() is not None:
            return "DEAD"
        for i in self.vrrp()["instances"]:
            if i["name"] == name:
                return i["state"]
        raise KeyError(name)

    def kill(self):
        """kill -9: no priority-0 advertisement, the peer must notice the silence."""
        self.ha.lab.stop(self.process, sig=9)



def wait_state(node, state, timeout=10, name="vip"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if node.state(name) == state:
            return True
        time.sleep(0.02)
    return node.state(name) == state


class Prober:
    """ping the VIP from the client every 5 ms, with receive timestamps (-D)."""

    def __init__(self, ha, interval="0.005"):
        self.ha = ha
        self.path = os.path.join(ha.lab.tmp, f"ping-{time.time_ns()}.log")
        self.process = ha.lab.spawn(ha.client, "ping", "-n", "-D", "-i", interval, "-W", "1",
                                    VIP, log=self.path)

    def replies(self):
        times = []
        with open(self.path) as f:
            for line in f:
                m = re.match(r"\[(\d+\.\d+)\] \d+ bytes from", line)
                if m:
                    times.append(float(m.group(1)))
        return times

    def wait_replies(self, count=20, timeout=10):
        deadline = time.time() + timeout
        start = len(self.replies())
        while time.time() < deadline:
            if len(self.replies()) >= start + count:
                return True
            time.sleep(0.02)
        return False

    def largest_gap_after(self, since):
        """The longest silence between replies that begins at or after `since` - 1 interval."""
        times = [x for x in self.replies() if x >= since - 0.5]
        gaps = [b - a for a, b in zip(times, times[1:]) if b >= since]
        return max(gaps) if gaps else float("inf")

    def stop(self):
        self.ha.lab.stop(self.process, sig=2)


def master_down_interval(advert_s, priority):
    """RFC 5798: 3 x advert + skew, skew = (256 - priority) x advert / 256."""
    return 3 * advert_s + (256 - priority) * advert_s / 256


class Keepalived:
    """keepalived 2.2 (Debian's) as the other VRRP router, at PEER in its own namespace."""

    def __init__(self, ha, priority, version=3, unicast=False, advert="0.1", password=None):
        ns = ha.peer_ns or ha.add_peer()
        self.ha, self.ns = ha, ns
        tmp = os.path.join(ha.lab.tmp, "keepalived")
        os.makedirs(tmp, exist_ok=True)
        auth = (f"    authentication {{\n        auth_type PASS\n        auth_pass {password}\n"
                f"    }}\n") if password else ""
        uni = (f"    unicast_src_ip {PEER}\n    unicast_peer {{\n        {NODES['a']}\n    }}\n"
               if unicast else "")
        self.conf = os.path.join(tmp, "keepalived.conf")
        with open(self.conf, "w") as f:
            f.write(f"""global_defs {{
    router_id ka
}}
vrrp_instance VI_1 {{
    state BACKUP
    interface eth0
    virtual_router_id {VRID}
    priority {priority}
    advert_int {advert}
    version {version}
{auth}{uni}    virtual_ipaddress {{
        {VIP}/24
    }}
}}
""")
        self.log_path = os.path.join(tmp, f"keepalived-{time.time_ns()}.log")
        self.process = ha.lab.spawn(
            ns, "keepalived", "--dont-fork", "--log-console", "--log-detail", "--vrrp",
            "--use-file", self.conf, "--pid", os.path.join(tmp, "k.pid"),
            "--vrrp_pid", os.path.join(tmp, "v.pid"), log=self.log_path)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def holds_vip(self):
        out = self.ha.lab.run(self.ns, "ip", "-4", "addr", "show", "dev", "eth0").stdout
        return f"inet {VIP}/" in out

    def kill(self):
        self.ha.lab.stop(self.process, sig=9)
        # keepalived killed -9 leaves the VIP on its interface: the kernel would still answer
        # ARP for it. Take it away, as the dead machine would.
        self.ha.lab.run(self.ns, "ip", "addr", "del", f"{VIP}/24", "dev", "eth0", check=False)


def wait_true(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def replication_section(ha, node, interface="ext", port=8848, cluster_id=1):
    """The `replication` section of `node`, towards the other node, with one shared key file
    (0600) in the lab's directory, and the node's epoch counter in its own directory: the
    default path is one per host, which two nodes on it would share."""
    key = os.path.join(ha.lab.tmp, "sync.key")
    if not os.path.exists(key):
        with open(key, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(key, 0o600)
    other = "b" if node == "a" else "a"
    addresses = NODES if interface == "ext" else INSIDE_NODES
    return {"interface": interface, "peer": addresses[other], "port": port, "key_file": key,
            "cluster_id": cluster_id,
            "epoch_file": os.path.join(ha.lab.tmp, node, "replication-epoch")}


def nat_pair_instances(priority, **extra):
    """The NAT pair's two instances (outside VIP, inside gateway) in one sync group."""
    outside = instance(priority, **extra)
    outside["name"] = "outside"
    inside = instance(priority, interface="int", virtual_router_id=52,
                      virtual_addresses=[INSIDE_GATEWAY], **extra)
    inside["name"] = "inside"
    return [outside, inside], {"sync_groups": [{"name": "nat", "instances": ["outside", "inside"]}]}
