"""The kernel exception path: the node's own address lives on a tap whose kernel side the
workers feed, so ping and TCP to the node's address reach the kernel through lb, and the node's
own sockets (health checks) reach the real servers over the data ports."""


import pytest

import topology as t
from netlab import Lab


@pytest.fixture(scope="module")
def env():
    lab = Lab("exc")
    try:
        net = t.build(lab, "nat", workers=1)
        for name, (ns, _) in net.servers.items():
            lab.http_server(ns, name, 8080)
        lb = t.Balancer(net, t.base_config(net, [t.service(net, "web", 80, backend_port=8080)]))
        yield lab, net, lb
    finally:
        lab.cleanup()


def test_the_kernel_side_holds_the_node_addresses(env):
    lab, net, lb = env
    out = lab.run(net.lb_ns, "ip", "-4", "-o", "addr").stdout
    assert "lb-ext" in out and "198.51.100.2/24" in out, out
    assert "lb-int" in out and "203.0.113.1/24" in out, out


def test_ping_to_the_node_address_reaches_the_kernel(env):
    lab, net, lb = env
    before = lb.stats()
    r = lab.run(net.client("c1"), "ping", "-c", "3", "-i", "0.2", "-W", "1", "198.51.100.2",
                check=False)
    assert r.returncode == 0, r.stdout
    # One answer per request, from lb's kernel path only: the kernel of lb's namespace must not
    # answer on the veth that the DPDK port sits on as well (the test bed used to).
    assert "DUP!" not in r.stdout, r.stdout
    assert lb.stats()["drops_total"]["to_node"] == before["drops_total"]["to_node"]


def test_tcp_to_the_node_address_reaches_a_kernel_socket(env):
    lab, net, lb = env
    lab.http_server(net.lb_ns, "the-node", 2222)
    r = lab.run(net.client("c1"), "curl", "-sS", "--max-time", "10",
                "http://198.51.100.2:2222/whoami", check=False)
    assert r.returncode == 0 and r.stdout.strip() == "the-node", r.stderr


def test_the_node_reaches_real_servers_through_the_data_ports(env):
    """What a health check does: a socket in lb's own namespace to a real server."""
    lab, net, lb = env
    for name, (_, address) in net.servers.items():
        r = lab.run(net.lb_ns, "curl", "-sS", "--max-time", "10",
                    f"http://{address}:8080/whoami", check=False)
        assert r.returncode == 0 and r.stdout.strip() == name, r.stderr


def test_balancing_is_unaffected(env):
    lab, net, lb = env
    assert sorted(set(t.fetch_many(net, "c1", f"http://{t.VIP}/whoami", 6))) == ["rs1", "rs2"]
