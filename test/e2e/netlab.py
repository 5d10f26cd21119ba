"""Network namespaces for end-to-end tests and the demo.

A Lab owns every namespace, veth and process it creates, under a name prefix unique to the
lab, and removes all of them in cleanup() - processes by PID (their whole process group), never
by name - whether the test passed or not. Addresses come from the documentation ranges only.
"""

import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time

_counter = itertools.count()


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, text=True, capture_output=True, **kw)


class Lab:
    def __init__(self, tag="lab"):
        # Short: namespace names appear in veth names, limited to 15 characters.
        self.prefix = f"{tag[:4]}{os.getpid() % 100000}{next(_counter)}"
        self.namespaces = []
        self.processes = []
        self.tmp = tempfile.mkdtemp(prefix=f"lb-{self.prefix}-")
        self._links = itertools.count()
        self.bridge_ports = {}  # (namespace, ifname) -> its bridge port in the switch namespace
        self.switch = self.add_namespace("sw")

    # -- namespaces and links ------------------------------------------------------------
    def add_namespace(self, role):
        name = f"{self.prefix}{role}"
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        self.run(name, "ip", "link", "set", "lo", "up")
        return name

    def add_bridge(self, name):
        self.run(self.switch, "ip", "link", "add", name, "type", "bridge")
        # No STP or forwarding delay: ports forward at once.
        self.run(self.switch, "ip", "link", "set", name, "type", "bridge", "forward_delay", "0")
        self.run(self.switch, "ip", "link", "set", name, "up")
        return name

    def link(self, namespace, ifname, bridge, address=None, gateway=None, checksum_off=True):
        """A veth from `namespace` (named `ifname` there) to a port of `bridge`."""
        n = next(self._links)
        outer, inner = f"{self.prefix}p{n}", f"{self.prefix}q{n}"
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        sh("ip", "link", "set", outer, "netns", self.switch)
        sh("ip", "link", "set", inner, "netns", namespace)
        self.run(namespace, "ip", "link", "set", inner, "name", ifname)
        self.bridge_ports[(namespace, ifname)] = outer
        self.run(self.switch, "ip", "link", "set", outer, "master", bridge)
        self.run(self.switch, "ip", "link", "set", outer, "up")
        if checksum_off:
            # The DPDK process forwards frames as they are: a kernel sender must not leave
            # the TCP/UDP checksum to an offload that never happens.
            self.run(namespace, "ethtool", "-K", ifname, "tx", "off", check=False)
        self.run(namespace, "ip", "link", "set", ifname, "up")
        if address:
            self.run(namespace, "ip", "addr", "add", address, "dev", ifname)
        if gateway:
            self.run(namespace, "ip", "route", "add", "default", "via", gateway)
        return ifname

    def dpdk_link(self, namespace, ifname, bridge):
        """A veth for a DPDK net_af_packet port: lb's frames only. The kernel of the namespace
        must neither see what arrives on it nor speak on it: it would answer ARP and ping for
        the node's address (held by lb's tap in the same namespace) a second time, and send
        IPv6 router solicitations. An nftables netdev ingress drop acts after AF_PACKET's
        taps, so lb still receives everything (tc's drop action is not in every kernel)."""
        self.link(namespace, ifname, bridge, checksum_off=False)
        self.run(namespace, "sysctl", "-qw", f"net.ipv6.conf.{ifname}.disable_ipv6=1",
                 check=False)
        table = f"dpdk_{ifname}"
        self.run(namespace, "nft", "add", "table", "netdev", table)
        self.run(namespace, "nft", "add", "chain", "netdev", table, "kernel_off",
                 f"{{ type filter hook ingress device {ifname} priority 0; policy drop; }}")
        return ifname

    def mac(self, namespace, ifname):
        out = self.run(namespace, "cat", f"/sys/class/net/{ifname}/address").stdout
        return out.strip()

    # -- processes -------------------------------------------------------------------------
    def run(self, namespace, *args, check=True, timeout=120, **kw):
        return sh("ip", "netns", "exec", namespace, *args, check=check, timeout=timeout, **kw)

    def spawn(self, namespace, *args, log=None, **kw):
        """Starts a long-running process in its own process group; cleanup() kills it."""
        out = open(log, "w") if log else subprocess.DEVNULL
        p = subprocess.Popen(["ip", "netns", "exec", namespace, *args], stdout=out,
                             stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
                             start_new_session=True, **kw)
        self.processes.append(p)
        return p

    def stop(self, process, sig=signal.SIGTERM, timeout=10):
        if process.poll() is not None:
            return process.returncode
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            return process.wait()

    def http_server(self, namespace, name, port, files=None, bind="0.0.0.0"):
        """python3 http.server on `port` serving a directory whose /whoami says `name` (`bind`
        "::" for both families)."""
        root = os.path.join(self.tmp, f"www-{name}-{port}")
        os.makedirs(root, exist_ok=True)
        with open(os.path.join(root, "whoami"), "w") as f:
            f.write(f"{name}\n")
        for rel, src in (files or {}).items():
            os.symlink(src, os.path.join(root, rel))
        p = self.spawn(namespace, "/usr/bin/python3", "-m", "http.server", str(port), "--bind", bind,
                       "--directory", root, log=os.path.join(self.tmp, f"http-{name}-{port}.log"))
        self.wait_for_port(namespace, port)
        return p

    def udp_echo_server(self, namespace, name, port, bind=None):
        """A UDP server answering every datagram with the server's name (udp_echo.py). In DR,
        bind to the VIP: an unbound UDP socket would answer from the server's own address."""
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "udp_echo.py")
        return self.spawn(namespace, "/usr/bin/python3", script, str(port), name,
                          *([bind] if bind else []))

    def wait_for_port(self, namespace, port, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = self.run(namespace, "ss", "-ltnH", f"sport = :{port}").stdout
            if out.strip():
                return
            time.sleep(0.05)
        raise TimeoutError(f"nothing listens on port {port} in {namespace}")

    # -- teardown ---------------------------------------------------------------------------
    def cleanup(self):
        for p in reversed(self.processes):
            self.stop(p, timeout=5)
        for ns in reversed(self.namespaces):
            # Anything still running inside (e.g. a child that left our process group) dies
            # with a PID lookup, never a name match.
            pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
