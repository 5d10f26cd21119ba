"""Scale-out over BGP (issue 14): three (then four) lb nodes, each with BIRD 2 announcing the
VIPs lb decides, a router running BIRD 2 with BFD and ECMP into its kernel, DR real servers,
tunnel real servers on a routed subnet and a client behind the router (bgp_lab.py). The tests
share one lab and run in file order: the spread, the tunnel service, a service below quorum on
one node, drain-node, kill -9 of a node under 50 DR and 10 tunnelled downloads, a node added
under load, a clean stop, lbctl bgp while BIRD is down, and a drain kept across restarts."""

import copy
import hashlib
import json
import os
import signal
import time

import pytest

import bgp_lab as bl
import topology as t
from netlab import Lab

FILE_MB = 3
RATE = "400K"  # per download: ~8 s each


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path = tmp_path_factory.mktemp("bgp") / "big.bin"
    path.write_bytes(os.urandom(FILE_MB << 20))
    os.chmod(path, 0o644)
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def lab(big):
    if not os.access(bl.BIRD, os.X_OK):
        pytest.skip("BIRD 2 is not installed (scripts/setup installs bird2)")
    lab = Lab("bgp")
    try:
        b = bl.BgpLab(lab, big[0])
        b.nodes = {name: bl.Node(b, name) for name in ("a", "b", "c")}
        b.digest = big[1]
        yield b
    finally:
        lab.cleanup()


class Downloads:
    """`count` concurrent rate-limited downloads of big.bin from the client, each piped into
    sha256sum; finish() waits for all and returns their digests."""

    batches = 0

    def __init__(self, b, count, vip=bl.VIP_WEB, port=80, rate=RATE):
        self.b, self.count, self.vip, self.port = b, count, vip, port
        # Each batch has client ports of its own, so that the tables' entries of earlier
        # batches (a node keeps the entry of a flow the router moved away) are told apart.
        Downloads.batches += 1
        first = 20000 + 1000 * Downloads.batches
        self.ports = range(first, first + 1000)
        self.dir = os.path.join(b.lab.tmp, f"dl-{time.time_ns()}")
        os.makedirs(self.dir)
        self.processes = []
        self.started = time.time()
        for i in range(count):
            out = os.path.join(self.dir, f"{i}.sha")
            cmd = (f"curl -sS --max-time 90 --limit-rate {rate} "
                   f"--local-port {self.ports.start}-{self.ports.stop - 1} "
                   f"http://{vip}:{port}/big.bin 2> {out}.err | sha256sum > {out}")
            self.processes.append(b.lab.spawn(b.client, "sh", "-c", cmd))


def read_digests(d):
    out = []
    for i in range(d.count):
        with open(os.path.join(d.dir, f"{i}.sha")) as f:
            words = f.read().split()
        out.append(words[0] if words else "")
    return out


def finish(d, timeout=120):
    deadline = time.time() + timeout
    for p in d.processes:
        p.wait(timeout=max(1, deadline - time.time()))
    print(f"{d.count} downloads done {time.time() - d.started:.1f} s after they started")
    return read_digests(d)


def client_flows_on(node, batch):
    """Connections of a batch of downloads in the node's table, in any state."""
    return [c for c in node.connections() if c["client"].startswith(bl.CLIENT + ":")
            and int(c["client"].rsplit(":", 1)[1]) in batch.ports
            and c["virtual"] == f"{batch.vip}:{batch.port}"]


def spread(lab, names, batch):
    """Established downloads of the batch per node."""
    return {n: len(client_flows_on(lab.nodes[n], batch)) for n in names}


def wait_all_started(lab, names, batch, timeout=20):
    """Until every download of the batch is established on some node (spawning 50 curls
    takes a while); returns the spread."""
    def progress():
        return sum(spread(lab, names, batch).values()) >= batch.count

    t.wait_for(progress, timeout=timeout, interval=0.2)
    return spread(lab, names, batch)


def test_all_nodes_announce_and_flows_spread_over_them(lab):
    started = time.time()
    for vip in (bl.VIP_WEB, bl.VIP_ALT, bl.VIP_TUN):
        assert lab.wait_next_hops(vip, "abc", timeout=60), (
            vip, lab.next_hops(vip), lab.birdc("show", "protocols"),
            {n: node.bgp() for n, node in lab.nodes.items()})
    print(f"three next hops for every VIP {time.time() - started:.1f} s after the nodes started")
    for name, node in lab.nodes.items():
        state = node.bgp()
        assert state["bird"]["state"] == "connected", state
        assert all(v["announced"] for v in state["vips"]), state
        (n,) = state["neighbors"]
        assert n["info"] == "Established" and n["bfd_state"] == "Up", state
    before = {n: node.connections_total("web") for n, node in lab.nodes.items()}
    bodies = lab.whoami_many(bl.VIP_WEB, 80, 90)
    assert len(bodies) == 90 and set(bodies) <= set(bl.SERVERS), bodies
    gained = {n: node.connections_total("web") - before[n] for n, node in lab.nodes.items()}
    print("new connections per node:", gained)
    assert all(g > 0 for g in gained.values()), gained
    assert sum(gained.values()) == 90, gained
    # The same flows, seen by the dataplane's own counters: every node received frames.
    for name, node in lab.nodes.items():
        assert node.stats()["rx_packets_total"] > 0
    metrics = lab.nodes["a"].metrics()
    for line in (f'lb_bgp_vip_announced{{vip="{bl.VIP_WEB}"}} 1',
                 f'lb_bgp_session_up{{neighbor="{bl.ROUTER_SEG}"}} 1', "lb_bgp_node_drained 0"):
        assert line in metrics, metrics
    assert any(m.startswith("lb_bgp_reconfigurations_total ") and not m.endswith(" 0")
               for m in metrics), metrics
    assert "lb_bgp_bird_errors_total 0" in metrics, metrics


def test_tunnel_service_spreads_over_the_nodes_and_downloads_arrive_intact(lab):
    """forwarding: tunnel behind ECMP: every node encapsulates to the routed real servers,
    which answer the client directly."""
    before = {n: node.connections_total("tun") for n, node in lab.nodes.items()}
    bodies = lab.whoami_many(bl.VIP_TUN, 80, 60)
    assert len(bodies) == 60 and set(bodies) <= set(bl.TUNNEL_SERVERS), bodies
    gained = {n: node.connections_total("tun") - before[n] for n, node in lab.nodes.items()}
    print("new tunnel connections per node:", gained)
    assert all(g > 0 for g in gained.values()), gained
    d = Downloads(lab, 9, vip=bl.VIP_TUN, rate="2M")
    print(f"tunnel downloads per node: {wait_all_started(lab, 'abc', d)}")
    digests = finish(d)
    assert digests == [lab.digest] * 9, digests
    # The replies bypassed the nodes (tunnel, like DR): no real server of tun counted a
    # packet out, while the clients' packets went in through every node.
    for name, node in lab.nodes.items():
        code, out, err = node.ctl("--json", "real-servers", "tun")
        assert code == 0, err
        servers = json.loads(out)
        assert servers and all(rs["packets_out_total"] == 0 for rs in servers), (name, servers)
        assert sum(rs["packets_in_total"] for rs in servers) > 0, (name, servers)


def test_a_service_below_quorum_on_one_node_withdraws_its_vip_only(lab):
    node = lab.nodes["b"]
    ns = lab.node_ns["b"]
    # Health checks of alt (port 8080) fail on node b only: its kernel drops them.
    lab.lab.run(ns, "nft", "add", "table", "inet", "hcdrop")
    lab.lab.run(ns, "nft", "add", "chain", "inet", "hcdrop", "out",
                "{ type filter hook output priority 0; policy accept; }")
    lab.lab.run(ns, "nft", "add", "rule", "inet", "hcdrop", "out", "tcp", "dport", "8080", "drop")
    try:
        assert lab.wait_next_hops(bl.VIP_ALT, "ac", timeout=15), lab.next_hops(bl.VIP_ALT)
        assert lab.next_hops(bl.VIP_WEB) == {bl.NODES[n] for n in "abc"}
        alt = node.vip_state(bl.VIP_ALT)
        assert not alt["wanted"] and not alt["announced"], alt
        assert "service 'alt' below quorum" in alt["reason"], alt
        assert node.vip_state(bl.VIP_WEB)["announced"]
        code, table, _ = node.ctl("bgp")
        assert code == 0 and "service 'alt' below quorum" in table, table
        assert f'lb_bgp_vip_announced{{vip="{bl.VIP_ALT}"}} 0' in node.metrics()
        # Others still announce it; the client still reaches it.
        assert set(lab.whoami_many(bl.VIP_ALT, 8080, 10)) <= set(bl.SERVERS)
    finally:
        lab.lab.run(ns, "nft", "delete", "table", "inet", "hcdrop", check=False)
    assert lab.wait_next_hops(bl.VIP_ALT, "abc", timeout=15), lab.next_hops(bl.VIP_ALT)


def test_a_reload_changes_what_is_announced(lab):
    node = lab.nodes["a"]
    config = copy.deepcopy(node.config)
    config["bgp"]["announce"] = ["web"]
    node.rewrite_config(config)
    code, out, err = node.ctl("reload")
    assert code == 0, (out, err)
    assert lab.wait_next_hops(bl.VIP_ALT, "bc", timeout=10), lab.next_hops(bl.VIP_ALT)
    assert lab.next_hops(bl.VIP_WEB) == {bl.NODES[n] for n in "abc"}
    assert "no service on it is in bgp.announce" in node.vip_state(bl.VIP_ALT)["reason"]
    node.rewrite_config(node.config)
    code, out, err = node.ctl("reload")
    assert code == 0, (out, err)
    assert lab.wait_next_hops(bl.VIP_ALT, "abc", timeout=10), lab.next_hops(bl.VIP_ALT)


def test_drain_node_withdraws_every_vip_and_downloads_finish(lab):
    node = lab.nodes["b"]
    d = Downloads(lab, 12)
    before = wait_all_started(lab, "abc", d)
    print(f"downloads per node before drain-node b: {before}")
    assert before["b"] > 0, "no download went through node b"
    code, out, err = node.ctl("drain-node")
    assert code == 0, err
    assert "drained" in out
    for vip in (bl.VIP_WEB, bl.VIP_ALT):
        assert lab.wait_next_hops(vip, "ac", timeout=10), lab.next_hops(vip)
    state = node.bgp()
    assert state["drained"] and not any(v["announced"] for v in state["vips"]), state
    digests = finish(d)
    assert digests == [lab.digest] * 12, digests
    code, out, err = node.ctl("drain-node", "--undo")
    assert code == 0, err
    for vip in (bl.VIP_WEB, bl.VIP_ALT):
        assert lab.wait_next_hops(vip, "abc", timeout=10), lab.next_hops(vip)


def test_kill_of_a_node_bfd_drops_it_and_50_downloads_complete(lab):
    victim = lab.nodes["c"]
    d = Downloads(lab, 50, rate="300K")  # ~10 s each
    tunneled = Downloads(lab, 10, vip=bl.VIP_TUN, rate="300K")  # to the routed servers
    before = wait_all_started(lab, "abc", d)
    print(f"downloads per node before the kill: {before}, "
          f"tunnel: {wait_all_started(lab, 'abc', tunneled)}")
    established = [c for c in client_flows_on(victim, d) if c["state"] == "established"]
    assert established, "no download in progress through node c"
    killed = time.time()
    victim.kill()
    assert lab.wait_next_hops(bl.VIP_WEB, "ab", timeout=10), lab.next_hops(bl.VIP_WEB)
    gone = time.time() - killed
    print(f"the router dropped the dead node's next hop {gone * 1000:.0f} ms after kill -9")
    assert gone < 2.0, gone
    digests = finish(d)
    assert digests == [lab.digest] * 50, [x == lab.digest for x in digests]
    digests = finish(tunneled)
    assert digests == [lab.digest] * 10, [x == lab.digest for x in digests]
    # BIRD of the dead node stays; its session is gone with lb's tap.
    lab.lab.stop(victim.bird, sig=signal.SIGTERM)


def test_a_node_added_takes_new_flows_and_adopts_moved_ones(lab):
    d = Downloads(lab, 30, rate="120K")  # ~25 s: still running once node d has joined
    print(f"downloads per node before node d: {wait_all_started(lab, 'ab', d)}")
    started = time.time()
    new = bl.Node(lab, "d", bird_first=True)  # the other start-up order
    lab.nodes["d"] = new
    assert lab.wait_next_hops(bl.VIP_WEB, "abd", timeout=60), lab.next_hops(bl.VIP_WEB)
    print(f"node d in the ECMP group {time.time() - started:.1f} s after its start")
    # The router rehashes: about a third of the running downloads move to d, which adopts
    # them mid-flow (mh), as their next ACK arrives.
    t.wait_for(lambda: len(client_flows_on(new, d)) >= 3, timeout=10, interval=0.2)
    adopted = [c for c in client_flows_on(new, d) if c["state"] == "established"]
    print(f"downloads per node after node d joined: {spread(lab, 'abd', d)}")
    before = new.connections_total("web")
    bodies = lab.whoami_many(bl.VIP_WEB, 80, 40)
    assert len(bodies) == 40
    assert new.connections_total("web") > before
    digests = finish(d)
    assert digests == [lab.digest] * 30, [x == lab.digest for x in digests]
    assert adopted, ("no download moved to the new node (ECMP rehash expected some)",
                     new.stats()["drops_total"], client_flows_on(new, d))


def test_sigterm_withdraws_before_stopping(lab):
    node = lab.nodes["d"]
    started = time.time()
    node.process.send_signal(signal.SIGTERM)
    assert lab.wait_next_hops(bl.VIP_WEB, "ab", timeout=10), lab.next_hops(bl.VIP_WEB)
    withdrawn = time.time() - started
    assert node.process.poll() is None, "lb stopped before the router withdrew its routes"
    code = node.process.wait(timeout=15)
    print(f"withdrawn after {withdrawn:.2f} s, lb exited after {time.time() - started:.2f} s")
    assert code == 0, node.log()
    log = node.log()
    assert "BIRD confirmed the withdrawal" in log, log


def test_lbctl_bgp_says_bird_is_down_since_when_and_why(lab):
    node = lab.nodes["b"]
    sock = node.config["bgp"]["socket"]
    lab.lab.stop(node.bird, sig=signal.SIGTERM)
    # Once BIRD's socket is gone, each retry says why it cannot connect.
    assert t.wait_for(lambda: node.bgp()["bird"]["error"]
                      and node.bgp()["bird"]["error"].startswith(f"cannot connect to {sock}: "),
                      timeout=10), node.bgp()
    bird = node.bgp()["bird"]
    assert not bird["connected"] and bird["state"] == "not reachable", bird
    assert bird["up_since"] is None and bird["down_since"], bird
    assert bird["last_error"] == bird["error"], bird  # the older field goes on as it was
    since = bird["down_since"]
    time.sleep(2.2)
    state = node.bgp()
    assert state["bird"]["down_since"] == since, state  # the moment BIRD went, not the last retry
    assert state["bird"]["down_for_seconds"] >= 2, state
    (n,) = state["neighbors"]
    assert n["state"] == "unknown (BIRD down)" and not n["established"], n
    code, table, _ = node.ctl("bgp")
    assert code == 0, table
    print(table)
    assert f"BIRD       down since {since} (" in table, table
    assert f"cannot connect to {sock}" in table and "unknown (BIRD down)" in table, table
    # BIRD again: lb reconnects within a second, has it load lb's file, and says since when.
    node.start_bird()
    assert t.wait_for(lambda: node.bgp()["bird"]["connected"], timeout=10), node.bgp()
    bird = node.bgp()["bird"]
    assert bird["up_since"] > since and bird["down_since"] is None and bird["error"] is None, bird
    assert bird["version"].startswith("BIRD "), bird
    assert lab.wait_next_hops(bl.VIP_WEB, "ab", timeout=30), lab.next_hops(bl.VIP_WEB)


def test_a_drained_node_stays_drained_across_a_restart(lab):
    node = lab.nodes["a"]
    state_file = node.config["bgp"]["drain_state_file"]
    code, out, err = node.ctl("--json", "drain-node")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["drained"] and answer["kept_across_restart"], answer
    assert os.path.exists(state_file)
    for vip in (bl.VIP_WEB, bl.VIP_ALT, bl.VIP_TUN):
        assert lab.wait_next_hops(vip, "b", timeout=10), lab.next_hops(vip)
    since = node.bgp()["drain"]["since"]
    assert since, node.bgp()

    node.restart()
    log = node.log()
    assert f"node drained since {since}" in log and "'lbctl drain-node --undo'" in log, log
    # Wait for BIRD's session to come back, so that "announces nothing" means something.
    assert t.wait_for(lambda: node.bgp()["neighbors"][0]["established"], timeout=60), node.bgp()
    state = node.bgp()
    assert state["drained"] and state["drain"]["since"] == since, state
    assert state["drain"]["kept_across_restart"], state
    assert not any(v["wanted"] or v["announced"] for v in state["vips"]), state
    time.sleep(1)  # what BIRD would have sent the router by now
    routes = lab.birdc("show", "route", "protocol", "lb_a")
    assert bl.VIP_WEB not in routes and bl.VIP_ALT not in routes, routes
    for vip in (bl.VIP_WEB, bl.VIP_ALT, bl.VIP_TUN):
        assert lab.next_hops(vip) == {bl.NODES["b"]}, (vip, lab.next_hops(vip))
    code, table, _ = node.ctl("bgp")
    assert f"drained (lbctl drain-node) since {since}" in table, table
    assert f"kept across restarts in {state_file}" in table, table

    code, out, err = node.ctl("drain-node", "--undo")
    assert code == 0 and "undrained" in out, (out, err)
    assert not os.path.exists(state_file)
    node.restart()
    for vip in (bl.VIP_WEB, bl.VIP_ALT, bl.VIP_TUN):
        assert lab.wait_next_hops(vip, "ab", timeout=60), lab.next_hops(vip)
    state = node.bgp()
    assert not state["drained"] and state["drain"]["since"] is None, state
    assert "drained since" not in node.log()


def test_a_drain_that_cannot_be_kept_still_drains_and_says_so(lab):
    node = lab.nodes["a"]
    config = copy.deepcopy(node.config)
    config["bgp"]["drain_state_file"] = "/nonexistent/lb/node-drained"
    node.rewrite_config(config)
    try:
        code, out, err = node.ctl("reload")
        assert code == 0, (out, err)
        code, out, err = node.ctl("--json", "drain-node")
        assert code == 0, err
        answer = json.loads(out)
        assert answer["drained"] and not answer["kept_across_restart"], answer
        assert "/nonexistent/lb/node-drained.tmp" in answer["not_kept_because"], answer
        assert "will not survive a restart" in answer["message"], answer
        assert lab.wait_next_hops(bl.VIP_WEB, "b", timeout=10), lab.next_hops(bl.VIP_WEB)
        code, table, _ = node.ctl("bgp")
        assert "NOT kept across a restart: cannot write /nonexistent/lb/node-drained.tmp" in table
        assert "will start it announcing again" in node.log(), node.log()
        code, out, err = node.ctl("drain-node", "--undo")
        assert code == 0, (out, err)
    finally:
        node.rewrite_config(node.config)
        node.ctl("reload")
    assert lab.wait_next_hops(bl.VIP_WEB, "ab", timeout=10), lab.next_hops(bl.VIP_WEB)
    assert not os.path.exists(node.config["bgp"]["drain_state_file"])
