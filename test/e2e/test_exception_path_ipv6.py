"""The node's IPv6 presence (issue 23, docs/ipv6-plan.md step 4's first half): an interface's
IPv6 addresses live on the kernel side of its tap, with the EUI-64 link-local address of the
port's MAC and nothing the kernel would make up; the workers hand the kernel what is addressed
to them (Neighbour Discovery to their solicited-node groups, echo, TCP), so that ping -6, TCP to
the node and the node's own sockets to IPv6 real servers work through the data ports, while
IPv4 balancing goes on as before."""

import pytest

import topology as t
from netlab import Lab

NODE6 = "2001:db8:100::2"
NODE6_INT = "2001:db8:200::1"
CLIENT6 = "2001:db8:100::10"
SERVER6 = "2001:db8:200::11"


def eui64_link_local(mac):
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 0x02
    groups = [b[0] << 8 | b[1], b[2] << 8 | 0xff, 0xfe << 8 | b[3], b[4] << 8 | b[5]]
    return "fe80::" + ":".join(f"{g:x}" for g in groups)


@pytest.fixture(scope="module")
def env():
    lab = Lab("ex6")
    try:
        net = t.build(lab, "nat", workers=1)
        c1 = net.client("c1")
        lab.run(c1, "ip", "-6", "addr", "add", f"{CLIENT6}/64", "dev", "eth0", "nodad")
        rs1_ns, _ = net.servers["rs1"]
        lab.run(rs1_ns, "ip", "-6", "addr", "add", f"{SERVER6}/64", "dev", "eth0", "nodad")
        lab.run(rs1_ns, "ip", "-6", "route", "add", "default", "via", NODE6_INT)
        for name, (ns, _) in net.servers.items():
            lab.http_server(ns, name, 8080, bind="::")
        cfg = t.base_config(net, [t.service(net, "web", 80, backend_port=8080)])
        ext, internal = cfg["interfaces"]
        ext["addresses"] = [ext.pop("address"), f"{NODE6}/64"]
        internal["addresses"] = [internal.pop("address"), f"{NODE6_INT}/64"]
        lb = t.Balancer(net, cfg)
        yield lab, net, lb
    finally:
        lab.cleanup()


def test_the_kernel_side_holds_exactly_the_configured_and_link_local_addresses(env):
    lab, net, lb = env
    mac = lab.mac(net.lb_ns, "lb-ext")
    out = lab.run(net.lb_ns, "ip", "-6", "-o", "addr", "show", "dev", "lb-ext").stdout
    held = sorted(line.split()[3] for line in out.splitlines())
    assert held == sorted([f"{NODE6}/64", f"{eui64_link_local(mac)}/64"]), out
    # Not tentative: no duplicate address detection holds them back.
    assert "tentative" not in out, out


def test_ping6_to_the_node_resolves_its_mac_and_is_answered_once(env):
    lab, net, lb = env
    r = lab.run(net.client("c1"), "ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", NODE6,
                check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "DUP!" not in r.stdout, r.stdout
    neigh = lab.run(net.client("c1"), "ip", "-6", "neigh", "show", NODE6).stdout
    assert lab.mac(net.lb_ns, "lb-ext") in neigh, neigh


def test_ping6_to_the_node_link_local_address(env):
    lab, net, lb = env
    link_local = eui64_link_local(lab.mac(net.lb_ns, "lb-ext"))
    r = lab.run(net.client("c1"), "ping", "-6", "-c", "2", "-i", "0.2", "-W", "2",
                f"{link_local}%eth0", check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def test_tcp6_to_the_node_reaches_a_kernel_socket(env):
    lab, net, lb = env
    lab.http_server(net.lb_ns, "the-node", 2223, bind="::")
    r = lab.run(net.client("c1"), "curl", "-sS", "--max-time", "10",
                f"http://[{NODE6}]:2223/whoami", check=False)
    assert r.returncode == 0 and r.stdout.strip() == "the-node", r.stderr


def test_the_node_reaches_an_ipv6_real_server_through_the_data_port(env):
    """What an IPv6 health check will do: a socket in lb's namespace to a real server."""
    lab, net, lb = env
    r = lab.run(net.lb_ns, "curl", "-sS", "--max-time", "10", f"http://[{SERVER6}]:8080/whoami",
                check=False)
    assert r.returncode == 0 and r.stdout.strip() == "rs1", r.stderr


def test_ipv4_balancing_is_unaffected(env):
    lab, net, lb = env
    assert sorted(set(t.fetch_many(net, "c1", f"http://{t.VIP}/whoami", 6))) == ["rs1", "rs2"]
    # What is IPv6 and not the node's is counted, not forwarded.
    r = lab.run(net.client("c1"), "curl", "-sS", "--max-time", "2",
                "http://[2001:db8:100::100]/", check=False)
    assert r.returncode != 0
    assert lb.stats()["drops_total"]["ipv6_not_enabled"] > 0
