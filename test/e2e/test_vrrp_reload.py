"""A reload applies the vrrp section like keepalived's: a new priority (the preempting node takes
over by election), a new notify command (run at the next transition), a new tracking weight
(the priority in effect moves while the tracked script fails), instances added and removed (the
dataplane answers for the addresses of the instances the router runs); an unchanged instance
does not move. Interfaces and table sizes are not reloaded: the reload says "needs restart"."""

import copy
import os
import time

import pytest

from ha import VIP, HaLab, Node, instance, node_config, wait_state, wait_true
from netlab import Lab


@pytest.fixture
def ha():
    with Lab("vr") as lab:
        yield HaLab(lab)


def reload(node, config):
    node.config = config
    node.rewrite_config(config)
    code, out, err = node.ctl("reload")
    assert code == 0, err
    return out


def status(node, name="vip"):
    for i in node.vrrp()["instances"]:
        if i["name"] == name:
            return i
    raise KeyError(name)


def test_a_reload_raising_a_priority_makes_the_node_preempt_and_leaves_others_alone(ha):
    a = Node(ha, "a", node_config(ha, "a", [instance(150)]))
    assert wait_state(a, "MASTER", timeout=5)
    b = Node(ha, "b", node_config(ha, "b", [instance(100)]))
    assert wait_state(b, "BACKUP", timeout=5)

    # A reload that changes nothing of a's instance: no transition, no gratuitous ARP.
    before = status(a)
    changed = copy.deepcopy(a.config)
    changed["services"][0]["real_servers"][0]["weight"] = 5
    reload(a, changed)
    time.sleep(1)
    after = status(a)
    assert after["state"] == "MASTER"
    assert after["transitions"] == before["transitions"]
    assert after["gratuitous_arps_sent"] == before["gratuitous_arps_sent"]

    raised = copy.deepcopy(b.config)
    raised["vrrp"]["instances"][0]["priority"] = 200
    out = reload(b, raised)
    assert "needs restart" not in out, out
    s = status(b)
    assert s["configured_priority"] == 200 and s["priority"] == 200, s
    assert wait_state(b, "MASTER", timeout=3), b.log()
    assert wait_state(a, "BACKUP", timeout=3), a.log()
    assert "advertisement with priority 200 from 198.51.100.3" in status(a)["reason"]


def test_a_reload_changing_a_notify_command_runs_the_new_one_at_the_next_transition(ha):
    tmp = ha.lab.tmp
    old_log, new_log = os.path.join(tmp, "old.log"), os.path.join(tmp, "new.log")
    config = node_config(ha, "a", [instance(150, notify={"backup": f"echo $3 >> {old_log}"})])
    a = Node(ha, "a", config)
    assert wait_state(a, "MASTER", timeout=5)
    assert wait_true(lambda: os.path.exists(old_log), 5)  # the BACKUP of start-up
    os.unlink(old_log)

    changed = copy.deepcopy(config)
    changed["vrrp"]["instances"][0]["notify"] = {"backup": f"echo $3 >> {new_log}"}
    reload(a, changed)
    assert status(a)["state"] == "MASTER"
    Node(ha, "b", node_config(ha, "b", [instance(200)]))
    assert wait_state(a, "BACKUP", timeout=5)
    assert wait_true(lambda: os.path.exists(new_log), 5), a.log()
    assert open(new_log).read().split()[0] == "BACKUP"  # $3: the state
    assert not os.path.exists(old_log)


def test_a_reload_changing_a_tracking_weight_moves_the_priority_in_effect(ha):
    missing = os.path.join(ha.lab.tmp, "never-there")
    scripts = {"scripts": [{"name": "upstream", "command": f"test -e {missing}",
                            "interval": "100ms", "timeout": "100ms", "fall": 1}]}
    config = node_config(ha, "a", [instance(150, track=[{"script": "upstream", "weight": -10}])],
                         scripts)
    a = Node(ha, "a", config)
    b = Node(ha, "b", node_config(ha, "b", [instance(100)]))
    assert wait_true(lambda: status(a)["priority"] == 140, 5), status(a)
    assert wait_state(a, "MASTER", timeout=5)
    assert wait_state(b, "BACKUP", timeout=5)

    heavier = copy.deepcopy(config)
    heavier["vrrp"]["instances"][0]["track"][0]["weight"] = -100
    reload(a, heavier)
    s = status(a)
    assert s["priority"] == 50 and s["configured_priority"] == 150, s
    assert s["tracking"] == "script 'upstream' failing (weight -100)", s
    assert wait_state(b, "MASTER", timeout=3), b.log()
    assert wait_state(a, "BACKUP", timeout=3), a.log()


def test_instances_added_and_removed_by_a_reload_own_their_addresses(ha):
    second = "198.51.100.101"

    def answers(address):
        r = ha.lab.run(ha.client, "ping", "-c1", "-W1", address, check=False, timeout=10)
        return r.returncode == 0

    config = node_config(ha, "a", [instance(150)])
    a = Node(ha, "a", config)
    assert wait_state(a, "MASTER", timeout=5)
    assert answers(VIP)
    assert not answers(second)
    vip_before = status(a)

    # The new instance comes first in the file: the old one moves in the list, not in the
    # dataplane.
    added = copy.deepcopy(config)
    other = instance(150, virtual_router_id=52, virtual_addresses=[second])
    other["name"] = "other"
    added["vrrp"]["instances"].insert(0, other)
    reload(a, added)
    assert wait_state(a, "MASTER", timeout=5, name="other")
    assert wait_true(lambda: answers(second), 5)
    assert answers(VIP)
    assert status(a)["transitions"] == vip_before["transitions"]

    # "vip" removed: it stops (STOP), its address is then a plain service VIP again.
    removed = copy.deepcopy(added)
    removed["vrrp"]["instances"] = [other]
    reload(a, removed)
    assert [i["name"] for i in a.vrrp()["instances"]] == ["other"]
    assert "vrrp vip: MASTER -> INIT" in a.log()
    assert answers(second)
    assert answers(VIP)


def test_a_reload_changing_an_interface_or_a_table_size_says_needs_restart(ha):
    config = node_config(ha, "a", [instance(150)])
    a = Node(ha, "a", config)
    assert wait_state(a, "MASTER", timeout=5)

    moved = copy.deepcopy(config)
    moved["interfaces"][0]["address"] = "198.51.100.5/24"
    moved["tables"]["connections"] = 32768
    moved["vrrp"]["instances"][0]["priority"] = 120  # applied all the same
    out = reload(a, moved)
    assert "needs restart: interfaces" in out, out
    assert "needs restart: tables" in out, out
    assert wait_true(lambda: "needs restart: tables" in a.log(), 5), a.log()
    assert status(a)["configured_priority"] == 120
    assert status(a)["master"] == "198.51.100.2"  # the running address


def test_a_reload_may_add_the_vrrp_section(ha):
    config = node_config(ha, "a", [instance(150)])
    vrrp = config.pop("vrrp")
    a = Node(ha, "a", config)
    assert a.vrrp()["instances"] == []
    with_vrrp = copy.deepcopy(config)
    with_vrrp["vrrp"] = vrrp
    reload(a, with_vrrp)
    assert wait_state(a, "MASTER", timeout=5), a.log()
    r = ha.lab.run(ha.client, "ping", "-c1", "-W1", VIP, check=False, timeout=10)
    assert r.returncode == 0
