"""The whole-process benchmark (scripts/bench runs it): the real lb binary and a traffic generator
(test/bench/lb_traffic.cpp) joined by a net_memif pair, one lcore each, for established DR, NAT
(both directions), UDP and new connections, at 1K and 1M flows; then the same generator against
dpdk-testpmd in macswap mode on the same memif setup: the ceiling, printed beside lb's figures.

Every frame the generator counts is checked (a wrong rewrite fails the run). Each process gets
--in-memory and its own --file-prefix; the memif socket and lb's files live in a directory of
their own, removed at the end whatever happens."""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LB = os.path.join(ROOT, "build", "lb", "lb")
GENERATOR = os.path.join(ROOT, "build", "test", "bench", "lb_traffic")
TESTPMD = shutil.which("dpdk-testpmd") or "/usr/bin/dpdk-testpmd"
FLOWS = [int(x) for x in os.environ.get("LB_BENCH_WHOLE_FLOWS", "1000,1000000").split(",")]
SECONDS = os.environ.get("LB_BENCH_WHOLE_SECONDS", "0.3")

LB_CONFIG = """node: {{name: bench}}
dpdk:
  eal_args: ["--in-memory", "--file-prefix=lbbench-lb", "--no-pci", "--no-telemetry",
             "-l", "0,1", "--log-level=*:error", "--vdev={vdev}"]
  workers: 1
  idle_backoff: false
interfaces:
  - {{name: ext, device: net_memif0, address: 198.51.100.2/24, kernel: false}}
services:
  - {{name: dr, vip: 198.51.100.100, port: 80, forwarding: dr, scheduler: mh,
     real_servers: [{{address: 198.51.100.21}}, {{address: 198.51.100.22}}]}}
  - {{name: dr-udp, vip: 198.51.100.100, port: 53, protocol: udp, forwarding: dr, scheduler: mh,
     real_servers: [{{address: 198.51.100.21}}, {{address: 198.51.100.22}}]}}
  - {{name: nat, vip: 198.51.100.101, port: 80, forwarding: nat, scheduler: mh,
     real_servers: [{{address: 198.51.100.31, port: 8080}}, {{address: 198.51.100.32, port: 8080}}]}}
tables: {{connections: {connections}, persistence_templates: 1024, ftp_sessions: 16}}
timeouts: {{tcp_syn: {short}, tcp_established: {short}}}
stats: {{file: {dir}/stats.json, interval: 1s}}
admin: {{socket: {dir}/lb.sock}}
"""


def vdev(directory, role, extra=""):
    return (f"net_memif0,role={role},id=0,socket={directory}/memif.sock,socket-abstract=no"
            f"{extra}")


def stop(process, sig=signal.SIGTERM):
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_lb(directory, short, connections):
    config = os.path.join(directory, "lb.yaml")
    with open(config, "w") as f:
        f.write(LB_CONFIG.format(vdev=vdev(directory, "server", ",mac=02:00:00:00:00:02"),
                                 dir=directory, short=short, connections=connections))
    log = os.path.join(directory, "lb.log")
    p = subprocess.Popen([LB, "--config", config], stdout=open(log, "w"),
                         stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"lb exited:\n{open(log).read()}")
        if "forwarding with" in open(log).read():
            return p
        time.sleep(0.05)
    stop(p)
    raise RuntimeError(f"lb did not start:\n{open(log).read()}")


def start_testpmd(directory):
    log = os.path.join(directory, "testpmd.log")
    # Non-interactive testpmd forwards until its standard input ends: a pipe we hold open.
    p = subprocess.Popen([TESTPMD, "-l", "0,1", "--main-lcore=0", "--in-memory",
                          "--file-prefix=lbbench-tp", "--no-pci", "--no-telemetry",
                          "--log-level=*:error",
                          f"--vdev={vdev(directory, 'server', ',mac=02:00:00:00:00:02')}", "--",
                          "--forward-mode=macswap", "--nb-cores=1", "--rxq=1", "--txq=1",
                          "--burst=32", "--total-num-mbufs=16384", "--no-mlockall",
                          "--disable-link-check"],
                         stdin=subprocess.PIPE, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"testpmd exited:\n{open(log).read()}")
        if os.path.exists(os.path.join(directory, "memif.sock")):
            time.sleep(0.5)
            return p
        time.sleep(0.05)
    stop(p)
    raise RuntimeError(f"testpmd did not start:\n{open(log).read()}")


def generate(directory, mode, flows):
    r = subprocess.run([GENERATOR, "-l", "0", "--in-memory", "--file-prefix=lbbench-gen",
                        "--no-pci", "--no-telemetry", "--log-level=*:error",
                        f"--vdev={vdev(directory, 'client', ',rsize=12,mac=02:c1:00:00:00:01')}",
                        "--", mode, str(flows), SECONDS],
                       capture_output=True, text=True, timeout=600)
    m = re.search(r"^RESULT (.*)$", r.stdout, re.M)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"generator {mode} {flows}: exit {r.returncode}\n{r.stdout}{r.stderr}")
    return dict(kv.split("=") for kv in m.group(1).split())


def run(directory, target, mode, flows):
    if os.path.exists(os.path.join(directory, "memif.sock")):
        os.unlink(os.path.join(directory, "memif.sock"))
    # The table sized to the run, as an operator would: lb's expiry sweep visits a tenth of it
    # every 100 ms on the control core, which here is the generator's core too.
    connections = 4_000_000 if mode == "new" else max(65536, 4 * flows)
    server = (start_testpmd(directory) if target == "testpmd"
              else start_lb(directory, "2s" if mode == "new" else "900s", connections))
    try:
        return generate(directory, mode, flows)
    finally:
        if target == "testpmd":
            server.stdin.close()
        stop(server, signal.SIGINT if target == "testpmd" else signal.SIGTERM)


def main():
    directory = tempfile.mkdtemp(prefix="lb-bench-whole-")
    try:
        print("whole process: lb between memif ports (one worker lcore), the generator on the "
              "other core; ceiling: dpdk-testpmd macswap on the same setup")
        print(f"{'flows':>9} | {'case':<24} | {'Mpps at <=0.1% loss':>19} | {'of ceiling':>10} | "
              f"{'p50 us':>7} | {'p99 us':>7} | {'ceiling p99':>11}")
        failed = False
        for flows in FLOWS:
            try:
                ceiling = run(directory, "testpmd", "macswap", flows)
            except RuntimeError as e:
                print(f"{flows:>9} | ceiling failed: {e}")
                failed = True
                continue
            cases = [("established DR", "dr"), ("established NAT (both)", "nat"),
                     ("UDP DR", "udp")]
            if flows == FLOWS[0]:
                cases.append(("new TCP connections", "new"))
            tp_name = "testpmd macswap" + (
                " *" if float(ceiling["mpps"]) >= 0.95 * float(ceiling["offered_mpps"]) else "")
            print(f"{flows:>9} | {tp_name:<24} | {float(ceiling['mpps']):>19.2f} | "
                  f"{'1.00':>10} | {float(ceiling['p50_us']):>7.1f} | "
                  f"{float(ceiling['p99_us']):>7.1f} | {'':>11}")
            for name, mode in cases:
                try:
                    r = run(directory, "lb", mode, flows)
                except RuntimeError as e:
                    print(f"{flows:>9} | {name:<24} | failed: {e}")
                    failed = True
                    continue
                mpps = float(r["mpps"])
                shown = name
                if mpps >= 0.95 * float(r["offered_mpps"]):
                    shown += " *"  # the generator's limit, not lb's
                if mode == "new":
                    shown = f"{name} ({mpps / 2:.2f}M/s)"  # a SYN and an ACK each
                print(f"{flows:>9} | {shown:<24} | {mpps:>19.2f} | "
                      f"{mpps / float(ceiling['mpps']):>10.2f} | {float(r['p50_us']):>7.1f} | "
                      f"{float(r['p99_us']):>7.1f} | {float(ceiling['p99_us']):>11.1f}")
        print("(every frame counted was verified: a wrong rewrite fails the run; * = lb kept up "
              "with all the generator could offer, so the figure is the generator's limit)")
        return 1 if failed else 0
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
