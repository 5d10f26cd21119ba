"""The Prometheus endpoint: promtool accepts a scrape, the counters match the traffic the test
sent, a real Prometheus server scrapes lb successfully, every family and label value is the one
docs/metrics.md names, and misbehaving HTTP clients do not keep a scrape from being answered."""

import json
import os
import re
import time

import pytest

import topology as t
from ha import HaLab, Node, instance, node_config, replication_section
from netlab import Lab


@pytest.fixture(scope="module")
def env():
    lab = Lab("met")
    try:
        net = t.build(lab, "nat", workers=1)
        for name, (ns, _) in net.servers.items():
            lab.http_server(ns, name, 8080)
        # "checked": one real server up, one closed and drained by its health check.
        checked = t.service(net, "checked", 82, backend_port=8080)
        checked["real_servers"][1]["port"] = 9999
        checked["health_check"] = {"type": "tcp", "interval": "200ms", "timeout": "150ms"}
        config = t.base_config(net, [t.service(net, "web", 80, backend_port=8080), checked])
        config["stats"]["listen"] = "127.0.0.1:9100"
        lb = t.Balancer(net, config)
        yield lab, net, lb
    finally:
        lab.cleanup()


@pytest.fixture(scope="module")
def ha_node():
    """A node with a VRRP instance and replication (its peer never comes): the families present
    only with those sections."""
    with Lab("mha") as lab:
        ha = HaLab(lab)
        config = node_config(ha, "a", [instance(100)])
        config["replication"] = replication_section(ha, "a")
        config["stats"]["listen"] = "127.0.0.1:9100"
        yield ha, Node(ha, "a", config)


def scrape_in(lab, namespace):
    r = lab.run(namespace, "curl", "-sS", "--max-time", "5", "http://127.0.0.1:9100/metrics",
                check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


def scrape(lab, net):
    return scrape_in(lab, net.lb_ns)


def documented_values(heading):
    """The label values docs/metrics.md lists in the table under `### heading`: the first cell
    of each row, which must be exactly one backticked name."""
    with open(os.path.join(t.ROOT, "docs", "metrics.md")) as f:
        text = f.read()
    section = re.search(rf"^### {re.escape(heading)}\n(.*?)(?=^#|\Z)", text, re.M | re.S)
    assert section, heading
    rows = [line for line in section.group(1).splitlines() if line.startswith("|")][2:]
    assert rows, heading
    values = []
    for row in rows:
        cell = row.split("|")[1].strip()
        assert re.fullmatch(r"`[a-z0-9_]+`", cell), (heading, row)
        values.append(cell.strip("`"))
    assert len(values) == len(set(values)), (heading, values)
    return set(values)


def served_values(text, family, label):
    """The values of `label` among the series of `family` in a scrape."""
    return {m.group(1) for m in re.finditer(rf'^{family}{{[^}}]*\b{label}="([^"]*)"', text, re.M)}


def value(text, name, **labels):
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError((name, labels))


def test_promtool_accepts_a_scrape(env):
    lab, net, lb = env
    text = scrape(lab, net)
    path = os.path.join(lab.tmp, "scrape.txt")
    with open(path, "w") as f:
        f.write(text)
    with open(path) as f:
        r = lab.run(net.lb_ns, "promtool", "check", "metrics", stdin=f, check=False)
    assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "", r.stdout + r.stderr
    assert value(text, "lb_build_info") == 1
    assert not re.search(r'198\.51\.100\.1\d\b', text)  # no client address anywhere


def test_counters_match_the_traffic_sent(env):
    lab, net, lb = env
    before = scrape(lab, net)
    bodies = t.fetch_many(net, "c1", f"http://{t.VIP}/whoami", 20)
    assert len(bodies) == 20
    lab.run(net.client("c1"), "curl", "-s", "--max-time", "2", f"http://{t.VIP}:81/",
            check=False)
    after = scrape(lab, net)
    created = value(after, "lb_service_connections_total", service="web") - \
        value(before, "lb_service_connections_total", service="web")
    assert created == 20
    per_server = sum(value(after, "lb_real_server_connections_total", service="web", server=s) -
                     value(before, "lb_real_server_connections_total", service="web", server=s)
                     for s in ("203.0.113.11:8080", "203.0.113.12:8080"))
    assert per_server == 20
    # Each HTTP/1.0 exchange is at least SYN, ACK, request, FIN, ACK in and as many out.
    packets_in = value(after, "lb_service_packets_total", service="web", direction="in") - \
        value(before, "lb_service_packets_total", service="web", direction="in")
    assert packets_in >= 20 * 4
    # The port-81 SYN (and its retransmissions) were dropped as no_service.
    assert value(after, "lb_drops_total", reason="no_service") > \
        value(before, "lb_drops_total", reason="no_service")
    assert value(after, "lb_connection_table_capacity") == 65536
    assert value(after, "lb_real_server_weight", service="web", server="203.0.113.11:8080") == 1


def test_device_counters_follow_the_traffic_in_metrics_and_stats(env):
    """Issue 10, 6b: what the devices count (a full receive ring drops frames before any worker
    sees them) is on the endpoint and in `lbctl stats`, per interface and for the kernel path."""
    lab, net, lb = env
    before = scrape(lab, net)
    assert len(t.fetch_many(net, "c1", f"http://{t.VIP}/whoami", 10)) == 10
    after = scrape(lab, net)
    for interface in ("ext", "int"):
        for direction in ("rx", "tx"):
            grown = value(after, "lb_interface_packets_total", interface=interface, path="data",
                          direction=direction) - \
                value(before, "lb_interface_packets_total", interface=interface, path="data",
                      direction=direction)
            assert grown >= 10 * 4, (interface, direction, grown)
        assert value(after, "lb_interface_rx_missed_total", interface=interface,
                     path="data") == 0
    # The health checks of "checked" go out through the kernel path of "int".
    assert value(after, "lb_interface_packets_total", interface="int", path="kernel",
                 direction="rx") > 0
    stats = lb.stats()
    by_name = {i["name"]: i for i in stats["interfaces"]}
    assert by_name["ext"]["device"] == "net_af_packet0"
    assert by_name["int"]["rx_packets_total"] >= value(after, "lb_interface_packets_total",
                                                      interface="int", path="data",
                                                      direction="rx")
    assert by_name["int"]["kernel_path"]["tx_packets_total"] > 0


def test_prometheus_scrapes_lb(env):
    lab, net, lb = env
    data = os.path.join(lab.tmp, "prometheus")
    os.makedirs(data, exist_ok=True)
    config = os.path.join(lab.tmp, "prometheus.yml")
    with open(config, "w") as f:
        f.write("global: {scrape_interval: 1s}\n"
                "scrape_configs:\n"
                "  - job_name: lb\n"
                "    static_configs: [{targets: ['127.0.0.1:9100']}]\n")
    lab.spawn(net.lb_ns, "prometheus", f"--config.file={config}",
              f"--storage.tsdb.path={data}", "--web.listen-address=127.0.0.1:9090",
              log=os.path.join(lab.tmp, "prometheus.log"))

    def target_up():
        r = lab.run(net.lb_ns, "curl", "-s", "--max-time", "2",
                    "http://127.0.0.1:9090/api/v1/targets", check=False)
        if r.returncode != 0 or not r.stdout:
            return False
        targets = json.loads(r.stdout)["data"]["activeTargets"]
        return any(x["health"] == "up" for x in targets)

    assert t.wait_for(target_up, timeout=30, interval=0.5), \
        open(os.path.join(lab.tmp, "prometheus.log")).read()[-2000:]


def test_weight_in_effect_documented_families_and_stats(env):
    """Issue 10, item 6c: a server drained by its health check has weight 0 in the metrics,
    every family a scrape carries is in docs/metrics.md, the stats file names real servers with their port, and `lbctl stats` prints a
    table unless asked for JSON."""
    lab, net, lb = env
    closed = {"service": "checked", "server": "203.0.113.12:9999"}
    assert t.wait_for(lambda: value(scrape(lab, net), "lb_real_server_up", **closed) == 0, 5)
    text = scrape(lab, net)
    assert value(text, "lb_real_server_weight", **closed) == 0
    assert value(text, "lb_real_server_weight", service="checked",
                 server="203.0.113.11:8080") == 1
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    with open(os.path.join(t.ROOT, "docs", "metrics.md")) as f:
        documented = set(re.findall(r"`([a-z_]+)`", f.read()))
    assert families - documented == set(), families - documented
    stats = lb.stats()
    servers = [rs["server"] for svc in stats["services"] for rs in svc["real_servers"]]
    assert "203.0.113.12:9999" in servers and "203.0.113.11:8080" in servers
    code, out, _ = lb.ctl("stats")
    assert code == 0 and not out.lstrip().startswith("{")
    assert re.search(r"^services\.checked\.real_servers\.203\.0\.113\.12:9999\.weight +0$",
                     out, re.M), out
    assert re.search(r"^rx_packets_total +\d+$", out, re.M), out
    code, out, _ = lb.ctl("--json", "stats")
    assert code == 0 and json.loads(out)["node"] == "lb-test"


def test_documented_drop_reasons_and_ftp_events_are_those_served(env):
    """Issue 22: every drop reason docs/metrics.md lists is served, and only those: a reason
    no packet was dropped for is served at 0, not left out."""
    lab, net, lb = env
    text = scrape(lab, net)
    reasons = documented_values("Drop reasons")
    assert "mtu" not in reasons
    assert served_values(text, "lb_drops_total", "reason") == reasons
    assert value(text, "lb_drops_total", reason="too_big_for_tunnel_no_df") == 0
    assert served_values(text, "lb_ftp_events_total", "event") == \
        documented_values("FTP helper events")


def test_documented_vrrp_and_replication_label_values_are_those_served(ha_node):
    ha, node = ha_node
    text = scrape_in(ha.lab, ha.node_ns["a"])
    for family, label, heading in (
            ("lb_vrrp_adverts_discarded_total", "reason", "VRRP discard reasons"),
            ("lb_replication_entries_total", "event", "Replication entry events"),
            ("lb_replication_datagrams_dropped_total", "reason", "Replication drop reasons")):
        assert served_values(text, family, label) == documented_values(heading), family


def test_every_family_is_lbs_with_a_conventional_name_and_base_unit(env, ha_node):
    """Issue 22: no exposer_* of prometheus-cpp; counters end in _total and nothing else does;
    a family about time is in seconds; the endpoint's own families count scrapes."""
    lab, net, lb = env
    ha, node = ha_node
    first = scrape(lab, net)
    text = scrape(lab, net)
    for body in (text, scrape_in(ha.lab, ha.node_ns["a"])):
        types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", body, re.M))
        assert types, body[:500]
        for name, kind in types.items():
            assert name.startswith("lb_"), name
            assert (kind == "counter") == name.endswith("_total"), (name, kind)
            if re.search(r"duration|latenc|lag|time|heard|_ago|_open|second|_ms$|_us$|milli|micro",
                         name):
                assert name.endswith("_seconds"), name
    assert "exposer_" not in text
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    assert types["lb_metrics_scrapes_total"] == "counter"
    assert types["lb_metrics_transferred_bytes_total"] == "counter"
    assert types["lb_metrics_scrape_duration_seconds"] == "histogram"
    # Prometheus of test_prometheus_scrapes_lb may scrape in between: at least one more.
    assert value(text, "lb_metrics_scrapes_total") >= value(first, "lb_metrics_scrapes_total") + 1
    assert value(text, "lb_metrics_transferred_bytes_total") >= \
        value(first, "lb_metrics_transferred_bytes_total") + len(first.encode())
    assert value(text, "lb_metrics_scrape_duration_seconds_count") == \
        value(text, "lb_metrics_scrapes_total")
    assert 0 < value(text, "lb_metrics_scrape_duration_seconds_sum") < \
        value(text, "lb_metrics_scrapes_total")  # well under a second a scrape


def test_only_get_metrics_is_answered_and_connections_are_kept_alive(env):
    lab, net, lb = env
    base = "http://127.0.0.1:9100"

    def curl(*args):
        r = lab.run(net.lb_ns, "curl", "-sS", "--max-time", "5", *args, check=False)
        assert r.returncode == 0, r.stderr
        return r.stdout

    assert curl("-o", "/dev/null", "-o", "/dev/null", "-w", "%{http_code}\n", f"{base}/",
                f"{base}/metrics/x").split() == ["404", "404"]
    answer = curl("-X", "POST", "-D", "-", "-o", "/dev/null", f"{base}/metrics")
    assert answer.startswith("HTTP/1.1 405"), answer
    assert re.search(r"^allow: GET\r?$", answer, re.M | re.I), answer
    assert curl("-I", f"{base}/metrics").startswith("HTTP/1.1 405")  # HEAD: no body follows
    # Two scrapes on one connection; the query string is ignored.
    answers = curl("-o", "/dev/null", "-o", "/dev/null", "-w",
                   "%{http_code} %{num_connects} %{content_type}\n",
                   f"{base}/metrics?x=1", f"{base}/metrics").splitlines()
    assert answers == ["200 1 text/plain; version=0.0.4; charset=utf-8",
                       "200 0 text/plain; version=0.0.4; charset=utf-8"], answers
    answer = curl("-H", "Connection: close", "-D", "-", "-o", "/dev/null", f"{base}/metrics")
    assert re.search(r"^connection: close\r?$", answer, re.M | re.I), answer


# Run in lb's namespace: clients that connect and say nothing, trickle a request byte by byte,
# or send a header far over the limit, and scrapes meanwhile. Prints what happened as JSON.
MISBEHAVING_CLIENTS = r"""
import json, select, socket, time, urllib.request

ADDRESS = ("127.0.0.1", 9100)
out = {"scrape_seconds": []}


def scrape():
    start = time.monotonic()
    with urllib.request.urlopen("http://127.0.0.1:9100/metrics", timeout=3) as r:
        assert r.status == 200 and b"lb_build_info" in r.read()
    out["scrape_seconds"].append(time.monotonic() - start)


start = time.monotonic()
silent = socket.create_connection(ADDRESS)
trickle = socket.create_connection(ADDRESS)
trickle.sendall(b"GET /metrics HTTP/1.1\r\nHost: lb\r\nX-Slow: ")
huge = socket.create_connection(ADDRESS)
try:
    huge.sendall(b"GET /metrics HTTP/1.1\r\nHost: lb\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n")
except OSError as e:
    out["huge_send"] = str(e)
huge.settimeout(3)
try:
    out["huge"] = huge.recv(4096).decode(errors="replace").split("\r\n")[0]
except OSError as e:
    out["huge"] = str(e)
scrape()
closed = {}
while time.monotonic() - start < 9 and len(closed) < 2:
    open_ones = [s for s in (silent, trickle) if s not in closed]
    readable, _, _ = select.select(open_ones, [], [], 0.5)
    for s in readable:
        try:
            data = s.recv(4096)
        except OSError:
            data = b""
        if not data:
            closed[s] = time.monotonic() - start
    if trickle not in closed:
        try:
            trickle.sendall(b"a")
        except OSError:
            closed[trickle] = time.monotonic() - start
    if len(out["scrape_seconds"]) < 2 and time.monotonic() - start > 2:
        scrape()
out["silent_closed_after"] = closed.get(silent)
out["trickle_closed_after"] = closed.get(trickle)
print(json.dumps(out))
"""


def test_silent_trickling_and_oversized_clients_do_not_stop_a_scrape(env):
    """Issue 22: a client that connects and sends nothing, one that trickles a request, or one
    that sends a huge header holds only its own connection, and only for the read timeout
    (5 s); scrapes meanwhile are answered at once."""
    lab, net, lb = env
    r = lab.run(net.lb_ns, "/usr/bin/python3", "-c", MISBEHAVING_CLIENTS, timeout=30)
    out = json.loads(r.stdout)
    assert len(out["scrape_seconds"]) == 2 and max(out["scrape_seconds"]) < 1, out
    # Answered 431 then closed; or, if the kernel saw unread bytes at the close, reset first.
    assert out["huge"].startswith("HTTP/1.1 431") or "reset" in out["huge"].lower() or \
        out["huge"] == "", out
    for client in ("silent", "trickle"):
        assert out[f"{client}_closed_after"] is not None, out
        assert 4 < out[f"{client}_closed_after"] < 7, out
    assert lb.process.poll() is None


# Run in lb's namespace: 64 idle connections, then one more, which is closed at once; once they
# are gone, a scrape is answered.
CONNECTION_LIMIT = r"""
import json, socket, urllib.request

ADDRESS = ("127.0.0.1", 9100)
idle = [socket.create_connection(ADDRESS) for _ in range(64)]
extra = socket.create_connection(ADDRESS)
extra.settimeout(2)
try:
    extra_closed = extra.recv(1) == b""
except ConnectionResetError:
    extra_closed = True
except socket.timeout:
    extra_closed = False
for s in idle:
    s.close()
with urllib.request.urlopen("http://127.0.0.1:9100/metrics", timeout=3) as r:
    status = r.status
print(json.dumps({"extra_closed": extra_closed, "status": status}))
"""


def test_connections_beyond_the_limit_are_closed_at_once(env):
    lab, net, lb = env
    time.sleep(0.5)  # Prometheus (test_prometheus_scrapes_lb) may hold a connection: gone by now
    r = lab.run(net.lb_ns, "/usr/bin/python3", "-c", CONNECTION_LIMIT, timeout=30)
    assert json.loads(r.stdout) == {"extra_closed": True, "status": 200}, r.stdout


def test_an_address_it_cannot_bind_is_a_clear_error(ha_node):
    ha, _ = ha_node
    config = node_config(ha, "b", [instance(100)])
    config["stats"]["listen"] = "192.0.2.1:9100"  # not an address of the node
    node = Node(ha, "b", config, wait=False)
    assert t.wait_for(lambda: node.process.poll() is not None, timeout=30), node.log()
    assert node.process.returncode != 0
    assert "stats.listen 192.0.2.1:9100: cannot serve metrics there: " in node.log(), node.log()
