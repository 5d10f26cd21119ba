"""The main job on a virtual network: see scripts/demo and conf/demo.yaml."""

import collections
import os
import signal
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "test", "e2e"))

import topology as t  # noqa: E402
from netlab import Lab  # noqa: E402

CONFIG = os.path.join(ROOT, "conf", "demo.yaml")
STATS = "/tmp/lb-demo-stats.json"


def say(text=""):
    print(text, flush=True)


def main():
    if os.geteuid() != 0:
        sys.exit("demo: needs root (network namespaces and hugepages)")
    # SIGTERM unwinds like Ctrl-C, so the lab is always removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    with Lab("demo") as lab:
        say("Building the network: client 198.51.100.10 | lb (DPDK net_af_packet) | "
            "rs1 203.0.113.11, rs2 203.0.113.12")
        net = t.build(lab, "nat", workers=1)
        for name, (ns, addr) in net.servers.items():
            lab.http_server(ns, name, 8080)
            say(f"  {name}: HTTP on {addr}:8080, /whoami says '{name}'")
        say(f"Starting lb with {os.path.relpath(CONFIG, ROOT)}")
        lb = t.Balancer(net, config_path=CONFIG, stats_path=STATS)

        say(f"\n1. Ten requests to http://{t.VIP}/whoami (service 'web', rr, NAT to :8080):")
        bodies = t.fetch_many(net, "c1", f"http://{t.VIP}/whoami", 10)
        say("   " + " ".join(bodies))
        say(f"   {dict(collections.Counter(bodies))}")

        say(f"\n2. Ten requests to http://{t.VIP}:81/whoami (service 'web-sticky', persistence):")
        bodies = t.fetch_many(net, "c1", f"http://{t.VIP}:81/whoami", 10)
        say("   " + " ".join(bodies))
        held = len(set(bodies)) == 1
        say("   every connection of this client went to the same real server" if held
            else "   persistence did NOT hold")

        say(f"\n3. ping {t.VIP}:")
        r = lab.run(net.client("c1"), "ping", "-c", "2", "-i", "0.2", t.VIP, check=False)
        say("   " + r.stdout.strip().splitlines()[-2])

        time.sleep(0.3)
        stats = lb.stats()
        say("\nCounters (stats.file):")
        for s in stats["services"]:
            per_rs = ", ".join(f"{rs['address']}={rs['connections_total']}"
                               for rs in s["real_servers"])
            say(f"   {s['name']}: {s['connections_total']} connections ({per_rs}), "
                f"{s['packets_in_total']} packets in, {s['packets_out_total']} out")
        say(f"   persistence templates: {stats['persistence_templates']}")
        code, _ = lb.stop()
        say(f"\nlb stopped (exit {code}); removing the network.")
        if code != 0 or not held:
            sys.exit(1)
    if not failover():
        sys.exit(1)
    say("Done.")


def failover():
    """The story lb exists for: a long download through a replicating pair, the master killed
    halfway, the download finishing through the standby."""
    from ha import VIP, HaLab  # noqa: E402
    from replication_lab import Download, big_file, replication, sha256, start_pair  # noqa: E402

    with Lab("demoha") as lab:
        say("\n4. Failover without losing connections. Building a pair: lb-a (master) and lb-b,")
        say("   VRRP for the VIP and the real server's gateway, replication between them;")
        say("   client 198.51.100.10, real server 203.0.113.11 (HTTP, NAT, wlc)")
        ha = HaLab(lab, nat=True)
        source = big_file(ha, 50)
        os.symlink(source, os.path.join(lab.tmp, "www-rs1-8080", "big"))
        a, b = start_pair(ha)
        say(f"   lb-b is {replication(b)['state']} with lb-a; downloading 50 MB at 10 MB/s "
            f"from http://{VIP}/big")
        download = Download(ha, f"http://{VIP}/big", rate="10M")
        while download.size() < 25 << 20:
            time.sleep(0.05)
        killed = time.time()
        say(f"   {download.size() >> 20} MB in: kill -9 of lb-a (the master)")
        a.kill()
        code = download.wait()
        stall = download.longest_stall_after(killed) * 1000
        whole = code == 0 and sha256(download.path) == sha256(source)
        say(f"   lb-b took over; the download {'finished' if code == 0 else 'FAILED'} "
            f"({'sha256 matches' if whole else 'sha256 DIFFERS'}), longest stall {stall:.0f} ms")
        say(f"   lb-b applied {replication(b)['applied']} replicated entries; "
            "the client never noticed more than the stall.")
        return whole


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        say("\ninterrupted; the network was removed")
        sys.exit(130)
