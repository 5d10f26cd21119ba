"""Bad VRRP advertisements (crafted with scapy) reach a running lb: each is discarded, counted
under its reason in `lbctl vrrp` and the metrics, and never changes any instance's state. A
valid advertisement with the same priority does, which shows the injection works."""

import os
import sys
import time

import pytest

from ha import HaLab, Node, instance, node_config, wait_state
from netlab import Lab

INJECTOR = os.path.join(os.path.dirname(__file__), "vrrp_injector.py")
BAD = ["bad_checksum", "bad_version", "bad_ttl", "wrong_vrid", "bad_authentication",
       "wrong_interval", "bad_address_count", "truncated", "not_a_peer"]


@pytest.fixture
def node():
    with Lab("vb") as lab:
        ha = HaLab(lab)
        ha.add_peer()
        instances = [
            instance(100, "100ms"),
            dict(instance(100, "1s", version=2,
                          authentication={"type": "PASS", "password": "s3cret"}),
                 name="v2", virtual_router_id=52, virtual_addresses=["198.51.100.101"]),
            dict(instance(100, "100ms", unicast_peers=["198.51.100.3"]), name="uc",
                 virtual_router_id=53, virtual_addresses=["198.51.100.102"]),
        ]
        config = node_config(ha, "a", instances)
        config["stats"]["listen"] = "127.0.0.1:9931"
        n = Node(ha, "a", config)
        for name in ("vip", "v2", "uc"):
            assert wait_state(n, "MASTER", timeout=10, name=name), n.log()
        yield ha, n


def inject(ha, node, *cases):
    mac = ha.lab.mac(ha.node_ns[node.node], "ext0")
    ha.lab.run(ha.peer_ns, sys.executable if "python3" in sys.executable else "/usr/bin/python3",
               INJECTOR, mac, *cases, timeout=60)
    time.sleep(0.3)  # the control thread polls the ring every few ms


def test_bad_adverts_are_discarded_counted_and_change_nothing(node):
    ha, n = node
    before = n.vrrp()
    assert all(v == 0 for v in before["discarded"].values())
    for case in BAD:
        inject(ha, n, case)
        after = n.vrrp()
        assert after["discarded"][case] == 1, (case, after["discarded"], n.ctl("stats")[1])
        others = {k: v for k, v in after["discarded"].items() if k not in BAD[:BAD.index(case) + 1]}
        assert all(v == 0 for v in others.values()), (case, after["discarded"])
        for old, new in zip(before["instances"], after["instances"]):
            assert new["state"] == "MASTER" and new["transitions"] == old["transitions"], case
            assert new["adverts_received"] == 0, case
    metrics = ha.lab.run(ha.node_ns["a"], "curl", "-sS", "http://127.0.0.1:9931/metrics").stdout
    for case in BAD:
        assert f'lb_vrrp_adverts_discarded_total{{reason="{case}"}} 1' in metrics
    assert n.process.poll() is None

    # The same advertisement, valid, from a higher priority: the instance steps down (and takes
    # over again a master-down interval later, as nothing more comes).
    inject(ha, n, "valid")
    assert "vip: MASTER -> BACKUP (priority 100): advertisement with priority 254 from " \
           "198.51.100.4" in n.log()
    status = n.vrrp()["instances"][0]
    assert status["adverts_received"] == 1
    assert status["transitions"] > before["instances"][0]["transitions"]
