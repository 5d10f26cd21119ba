"""lb and keepalived 2.2 as VRRP peers: VRRPv3 and VRRPv2 with PASS authentication, multicast
and unicast. The higher priority is master in either pairing, and either takes over when the
other is killed. tshark's VRRP dissector checks lb's advertisements."""

import time

import pytest

from ha import (NODES, PEER, HaLab, Keepalived, Node, instance, master_down_interval,
                node_config, wait_state, wait_true)
from netlab import Lab


@pytest.fixture
def ha():
    with Lab("ka") as lab:
        h = HaLab(lab)
        h.add_peer()
        yield h


CASES = {
    "v3-multicast": dict(version=3, unicast=False),
    "v3-unicast": dict(version=3, unicast=True),
    "v2-pass-multicast": dict(version=2, unicast=False),
    "v2-pass-unicast": dict(version=2, unicast=True),
}


def lb_instance(priority, version, unicast):
    extra = {}
    if version == 2:
        extra = {"version": 2, "authentication": {"type": "PASS", "password": "s3cret"}}
    if unicast:
        extra["unicast_peers"] = [PEER]
    return instance(priority, "100ms" if version == 3 else "1s", **extra)


@pytest.mark.parametrize("case", list(CASES))
def test_lb_and_keepalived_elect_the_higher_priority_and_take_over(ha, case):
    version, unicast = CASES[case]["version"], CASES[case]["unicast"]
    advert = 0.1 if version == 3 else 1.0
    password = "s3cret" if version == 2 else None
    down = master_down_interval(advert, 100) + 2  # generous: keepalived's own timing

    # lb higher: lb is master, keepalived backs it up.
    a = Node(ha, "a", node_config(ha, "a", [lb_instance(150, version, unicast)]))
    assert wait_state(a, "MASTER", timeout=down + 3), a.log()
    ka = Keepalived(ha, 100, version=version, unicast=unicast,
                    advert="0.1" if version == 3 else "1", password=password)
    assert wait_true(lambda: "Entering BACKUP STATE" in ka.log(), 10), ka.log()
    time.sleep(3 * advert)
    assert a.state() == "MASTER" and not ka.holds_vip(), ka.log()
    assert a.vrrp()["discarded"] == {k: 0 for k in a.vrrp()["discarded"]}

    # keepalived takes over when lb dies.
    a.kill()
    assert wait_true(ka.holds_vip, down), ka.log()

    # keepalived higher: a returning lb with a lower priority stays backup.
    a = Node(ha, "a", node_config(ha, "a", [lb_instance(50, version, unicast)]))
    time.sleep(master_down_interval(advert, 50) + 3 * advert)
    assert a.state() == "BACKUP", a.log()
    assert ka.holds_vip()
    status = a.vrrp()
    assert status["instances"][0]["master"] == PEER
    assert status["instances"][0]["adverts_received"] > 0
    assert all(v == 0 for v in status["discarded"].values()), status

    # lb takes over when keepalived dies.
    ka.kill()
    assert wait_state(a, "MASTER", timeout=down), a.log()


def test_tshark_decodes_lb_adverts_with_a_valid_checksum(ha):
    a = Node(ha, "a", node_config(ha, "a", [instance(150, "100ms")]))
    assert wait_state(a, "MASTER", timeout=5)
    r = ha.lab.run(ha.peer_ns, "tshark", "-n", "-i", "eth0", "-a", "duration:2", "-f",
                   "ip proto 112", "-o", "vrrp.v3_checksum_as_in_v2:FALSE", "-T", "fields",
                   "-e", "ip.src", "-e", "ip.ttl", "-e", "vrrp.version", "-e", "vrrp.virt_rtr_id",
                   "-e", "vrrp.prio", "-e", "vrrp.checksum.status", "-e", "vrrp.ip_addr",
                   "-E", "occurrence=a", check=False, timeout=30)
    lines = [line.split("\t") for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) >= 10, r.stdout + r.stderr
    for src, ttl, version, vrid, prio, checksum, addresses in lines:
        assert (src, ttl, version, vrid, prio) == (NODES["a"], "255", "3", "51", "150")
        # Wireshark's checksum status values: 0 Bad, 1 Good, 2 Unverified.
        assert checksum == "1", f"tshark's checksum status is {checksum}, not 1 (Good)"
        assert addresses == "198.51.100.100"
    # The same capture's verbose view says so in words.
    v = ha.lab.run(ha.peer_ns, "tshark", "-n", "-i", "eth0", "-c", "1", "-f", "ip proto 112",
                   "-V", check=False, timeout=30).stdout
    assert "Virtual Router Redundancy Protocol" in v and "[Checksum Status: Good]" in v, v
