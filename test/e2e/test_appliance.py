"""The appliance (issue 15): the Debian package built from the tree and installed into a clean
root, the systemd unit verified offline against the installed paths, lintian, the man pages,
bash completion; sd_notify readiness and the watchdog against a test socket standing in for
systemd's NOTIFY_SOCKET; journal priorities; and `lb --check --hardware` on fake sysfs trees and
on this machine.

The package is made from build/ (what scripts/setup builds), as scripts/package does by default.
The watchdog test stalls the control loop alone with a test build of lb, test/tools/lb_stallable
(LB_TEST_STALL_CONTROL_LOOP_WHILE=PATH: the loop blocks while PATH exists, the workers go on);
lb itself carries no such hook."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import topology as t
import yaml_emit
from netlab import Lab

ROOT = t.ROOT
# lb built with the watchdog test's hook (test/meson.build), beside the lb under test.
LB_STALLABLE = os.environ.get(
    "LB_STALLABLE_BINARY",
    os.path.join(os.path.dirname(os.path.dirname(t.LB)), "test", "lb_stallable"))
SHIPPED_FILES = ["/usr/sbin/lb", "/usr/bin/lbctl", "/etc/lb/lb.yaml",
                 "/lib/systemd/system/lb.service", "/usr/share/man/man8/lb.8.gz",
                 "/usr/share/man/man8/lbctl.8.gz", "/usr/share/bash-completion/completions/lbctl",
                 "/usr/share/doc/lb/copyright", "/usr/share/doc/lb/changelog.Debian.gz"]


def run(*args, check=True, timeout=300, **kw):
    return subprocess.run(list(args), check=check, text=True, capture_output=True,
                          timeout=timeout, **kw)


# -- the package -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    started = time.monotonic()
    r = run(os.path.join(ROOT, "scripts", "package"), str(out), check=False, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    path = r.stdout.strip().splitlines()[-1]
    print(f"scripts/package: {path} in {time.monotonic() - started:.1f} s")
    assert os.path.basename(path).startswith("lb_") and path.endswith(".deb")
    return path


@pytest.fixture(scope="module")
def installed(deb, tmp_path_factory):
    """A clean root: an empty dpkg database, the package installed with dpkg --root. The
    maintainer scripts run outside the root (--force-script-chrootless: the root has no shell);
    they do nothing there, since no systemd runs. Debian's own unit files are copied in, as any
    Debian 12 system has them, for systemd-analyze to resolve sysinit.target and the rest."""
    root = empty_root(str(tmp_path_factory.mktemp("root")))
    r = dpkg(root, "-i", deb)
    assert r.returncode == 0, r.stdout + r.stderr
    return root


def empty_root(root):
    """A directory with an empty dpkg database."""
    os.makedirs(os.path.join(root, "var/lib/dpkg/info"))
    os.makedirs(os.path.join(root, "var/lib/dpkg/updates"))
    open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
    return root


def dpkg(root, *args):
    """dpkg on `root`; the maintainer scripts run here with DPKG_ROOT=root."""
    return run("dpkg", f"--root={root}", "--force-depends", "--force-script-chrootless", *args,
               check=False)


def test_the_package_installs_its_files_a_conffile_and_declares_its_dependencies(deb, installed):
    listed = run("dpkg", f"--root={installed}", "-L", "lb").stdout.split("\n")
    for path in SHIPPED_FILES:
        assert path in listed, listed
        assert os.path.isfile(installed + path), path
    assert os.access(installed + "/usr/sbin/lb", os.X_OK)
    status = run("dpkg", f"--root={installed}", "-s", "lb").stdout
    assert "Status: install ok installed" in status, status
    assert "Conffiles:\n /etc/lb/lb.yaml " in status, status
    depends = run("dpkg-deb", "-f", deb, "Depends").stdout
    print("Depends:", depends)
    for needed in ("librte-eal23", "librte-ethdev23", "libsystemd0", "libyaml-cpp0.7", "dpdk"):
        assert needed in depends, depends
    # apt resolves them against the archive's package lists (a simulation: nothing installed).
    r = run("apt-get", "install", "-s", "-o", "Debug::NoLocking=1", os.path.abspath(deb),
            check=False)
    assert r.returncode == 0 and "Inst lb " in r.stdout, r.stdout + r.stderr


def test_purge_after_systemctl_enable_leaves_no_enablement_behind(deb, tmp_path):
    """Issue 22: the admin enables the unit (the package does not); a purge, straight away or
    after a remove, takes the link away with the package instead of leaving it dangling, and the
    mask that remove sets is gone too. deb-systemd-helper and systemctl work on the root."""
    root = empty_root(str(tmp_path / "root"))
    system = os.path.join(root, "etc/systemd/system")
    wants = os.path.join(system, "multi-user.target.wants/lb.service")
    for remove_first in (False, True):
        r = dpkg(root, "-i", deb)
        assert r.returncode == 0, r.stdout + r.stderr
        assert not os.path.lexists(wants)  # installing enables nothing
        run("systemctl", f"--root={root}", "enable", "lb.service")
        assert os.readlink(wants) == "/lib/systemd/system/lb.service"
        if remove_first:
            r = dpkg(root, "-r", "lb")
            assert r.returncode == 0, r.stdout + r.stderr
            assert os.readlink(os.path.join(system, "lb.service")) == "/dev/null"  # masked
        r = dpkg(root, "--purge", "lb")
        assert r.returncode == 0, r.stdout + r.stderr
        assert not os.path.lexists(wants), remove_first
        assert not os.path.lexists(os.path.join(system, "lb.service")), remove_first
        left = [os.path.join(d, f) for d, _, files in os.walk(root) for f in files
                if "lb.service" in f]
        assert left == [], left


def test_the_installed_binaries_run_and_the_shipped_configuration_passes_check(installed):
    r = run(installed + "/usr/sbin/lb", "--version")
    assert r.stdout.startswith("lb 0.1.0 (DPDK 22.11"), r.stdout
    r = run(installed + "/usr/sbin/lb", "--config", installed + "/etc/lb/lb.yaml", "--check",
            check=False)
    assert r.returncode == 0 and ": OK (1 service(s), 2 interface(s))" in r.stdout, r.stdout + r.stderr
    r = run(installed + "/usr/bin/lbctl", "--help", check=False)
    assert r.returncode == 0 and "usage: lbctl" in r.stdout, r.stdout + r.stderr


def test_the_unit_verifies_against_the_installed_paths(installed):
    unit = "/lib/systemd/system/lb.service"
    text = open(installed + unit).read()
    for line in ("Type=notify", "WatchdogSec=", "ExecReload=/usr/bin/lbctl reload",
                 "ExecStartPre=/usr/sbin/lb --config /etc/lb/lb.yaml --check"):
        assert line in text, line
    units = os.path.join(installed, "lib/systemd/system")
    for name in os.listdir("/lib/systemd/system"):
        src = os.path.join("/lib/systemd/system", name)
        if name != "lb.service" and not os.path.exists(os.path.join(units, name)):
            if os.path.isdir(src) and not os.path.islink(src):
                shutil.copytree(src, os.path.join(units, name), symlinks=True)
            else:
                shutil.copy2(src, os.path.join(units, name), follow_symlinks=False)
    r = run("systemd-analyze", "verify", "--man=no", f"--root={installed}", unit, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    # It does look at the installed binaries: without /usr/sbin/lb the same check fails.
    os.rename(installed + "/usr/sbin/lb", installed + "/usr/sbin/lb.away")
    try:
        r = run("systemd-analyze", "verify", "--man=no", f"--root={installed}", unit, check=False)
        assert r.returncode != 0 and "/usr/sbin/lb is not executable" in r.stderr, r.stderr
    finally:
        os.rename(installed + "/usr/sbin/lb.away", installed + "/usr/sbin/lb")
    r = run("systemd-analyze", "security", "--offline=yes", f"--root={installed}", unit,
            check=False)
    print("\n".join(line for line in r.stdout.splitlines() if "exposure" in line))


def test_lintian_reports_no_errors(deb):
    r = run("lintian", "--tag-display-limit", "0", "-I", deb, check=False, timeout=600)
    tags = [line for line in r.stdout.splitlines() if line[:2] in ("E:", "W:", "I:", "X:")]
    print("lintian:\n" + "\n".join(tags))
    assert not [line for line in tags if line.startswith("E:")], r.stdout + r.stderr
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_man_pages_render_from_the_readme(installed):
    readme = open(os.path.join(ROOT, "README.md")).read()
    for page, words in (("lb", ["lb - userspace L4 load balancer on DPDK", "INSTALLING ON AN",
                                "--check --hardware"]),
                        ("lbctl", ["lbctl - query and steer a running lb", "set-weight"])):
        path = f"{installed}/usr/share/man/man8/{page}.8.gz"
        r = run("man", "-l", path, env={**os.environ, "MANWIDTH": "100", "MAN_KEEP_FORMATTING": ""})
        assert r.returncode == 0 and r.stderr == "", r.stderr
        for w in words:
            assert w in r.stdout, (page, w)
        # The README is the one source: its sentences are in the page.
        assert "validated, it fails" in readme
        # groff's own warnings (what lintian's groff-message reports) are none.
        r = run("man", "--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z", path)
        assert r.stderr == "", r.stderr
    lb_text = run("man", "-l", f"{installed}/usr/share/man/man8/lb.8.gz",
                  env={**os.environ, "MANWIDTH": "1000"}).stdout
    assert "validated, it fails with the errors and changes nothing" in " ".join(lb_text.split())


def test_bash_completion_offers_the_commands(installed):
    script = f"""
        source /usr/share/bash-completion/bash_completion
        source {installed}/usr/share/bash-completion/completions/lbctl
        COMP_WORDS=(lbctl re); COMP_CWORD=1; COMP_LINE="lbctl re"; COMP_POINT=${{#COMP_LINE}}
        _lbctl lbctl re lbctl; echo "${{COMPREPLY[*]}}"
        COMP_WORDS=(lbctl --json connections --); COMP_CWORD=3; COMP_LINE="lbctl --json connections --"
        COMP_POINT=${{#COMP_LINE}}
        _lbctl lbctl -- connections; echo "${{COMPREPLY[*]}}"
    """
    lines = run("bash", "-c", script).stdout.splitlines()
    assert sorted(lines[0].split()) == ["real-servers", "reload", "replication"], lines
    assert set(lines[1].split()) == {"--service", "--limit", "--json"}, lines


# -- systemd's protocol: readiness, watchdog, journal priorities --------------------------------

class NotifySocket:
    """What systemd listens on: an AF_UNIX datagram socket; each datagram is one notification
    of newline-separated KEY=VALUE lines."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def receive(self, timeout):
        """The next notification as (monotonic time, {KEY: VALUE}), or None."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            return None
        fields = dict(line.split("=", 1) for line in data.split("\n") if "=" in line)
        return time.monotonic(), fields

    def wait_for(self, key, timeout, seen=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.receive(max(0.01, deadline - time.monotonic()))
            if got is None:
                break
            if seen is not None:
                seen.append(got[1])
            if key in got[1]:
                return got
        return None

    def drain(self):
        n = 0
        while self.receive(0.001) is not None:
            n += 1
        return n

    def close(self):
        self.sock.close()


def journal_log(path):
    """A log file that lb will take for the journal: JOURNAL_STREAM names its device and inode,
    as systemd does for the stream it hands a service."""
    open(path, "w").close()
    st = os.stat(path)
    return f"{st.st_dev}:{st.st_ino}"


def test_ready_arrives_once_lb_forwards_and_logs_carry_journal_priorities():
    with Lab("apr") as lab:
        net = t.build(lab, "nat")
        for name, (ns, _) in net.servers.items():
            lab.http_server(ns, name, 8080)
        cfg = t.base_config(net, [t.service(net, "web", 80, backend_port=8080)])
        path = os.path.join(lab.tmp, "lb.yaml")
        with open(path, "w") as f:
            f.write(yaml_emit.dump(cfg))
        notify = NotifySocket(lab.tmp)
        log = os.path.join(lab.tmp, "lb.log")
        env = {**os.environ, "NOTIFY_SOCKET": notify.path, "JOURNAL_STREAM": journal_log(log)}
        started = time.monotonic()
        p = lab.spawn(net.lb_ns, t.LB, "--config", path, log=log, env=env)
        seen = []
        got = notify.wait_for("READY", 60, seen)
        assert got is not None, (seen, open(log).read())
        ready_at, fields = got
        # At READY=1: lbctl answers, the ports are up and the dataplane forwards.
        r = subprocess.run([t.LBCTL, "--socket", cfg["admin"]["socket"], "--json", "services"],
                           capture_output=True, text=True, timeout=5)
        assert r.returncode == 0 and '"name":"web"' in r.stdout.replace(" ", ""), r
        body = t.curl(net, "c1", f"http://{t.VIP}/whoami", timeout=5).stdout.strip()
        assert body in ("rs1", "rs2"), body
        assert "forwarding with 1 worker(s), 1 service(s)" in fields.get("STATUS", ""), fields
        assert [s for s in seen if "READY" in s] == [fields], seen  # once
        print(f"READY=1 {ready_at - started:.2f} s after the start; before it: {seen[:-1]}")
        # No watchdog asked for (no WATCHDOG_USEC): no pings.
        assert notify.wait_for("WATCHDOG", 0.5) is None
        assert lab.stop(p, signal.SIGTERM) == 0
        assert notify.wait_for("STOPPING", 5) is not None
        text = open(log).read()
        assert "<6>lb: lb-test forwarding with 1 worker(s)" in text, text
        assert "<6>lb: stopped cleanly" in text, text
        notify.close()


def null_device_config(lab, device):
    """lb on DPDK's null device (no namespace links needed); `device` other than net_null0
    names a port that does not exist."""
    cfg = {"node": {"name": "lb-null"},
           "dpdk": {"eal_args": ["--no-pci", "--in-memory", "--log-level=*:warning",
                                 "--vdev=net_null0"]},
           "interfaces": [{"name": "if0", "device": device, "address": "198.51.100.2/24"}],
           "services": [{"name": "web", "vip": "198.51.100.100", "port": 80,
                         "real_servers": [{"address": "198.51.100.21"}]}],
           "tables": {"connections": 4096, "persistence_templates": 4096},
           "admin": {"socket": os.path.join(lab.tmp, "lb.sock")}}
    path = os.path.join(lab.tmp, "lb.yaml")
    with open(path, "w") as f:
        f.write(yaml_emit.dump(cfg))
    return cfg, path


def test_start_up_errors_are_priority_3_under_the_journal_and_unprefixed_elsewhere():
    with Lab("ape") as lab:
        cfg, path = null_device_config(lab, "net_null7")
        for journal in (True, False):
            log = os.path.join(lab.tmp, f"lb-{journal}.log")
            env = dict(os.environ)
            env.pop("JOURNAL_STREAM", None)
            if journal:
                env["JOURNAL_STREAM"] = journal_log(log)
            p = lab.spawn(lab.switch, t.LB, "--config", path, log=log, env=env)
            assert p.wait(timeout=60) == 1
            text = open(log).read()
            error = "lb: error: interface 'if0': DPDK device 'net_null7' does not exist"
            if journal:
                assert "<3>" + error in text, text
            else:
                assert error in text and "<3>" not in text, text


def test_a_refused_reload_is_a_warning_under_the_journal():
    """Issue 22: a refused reload, by SIGHUP or lbctl, is logged at priority 4, every line, so
    that `journalctl -p warning` shows it; an applied one stays at 6."""
    with Lab("aph") as lab:
        cfg, path = null_device_config(lab, "net_null0")
        log = os.path.join(lab.tmp, "lb.log")
        env = {**os.environ, "JOURNAL_STREAM": journal_log(log)}
        p = lab.spawn(lab.switch, t.LB, "--config", path, log=log, env=env)
        assert t.wait_for(lambda: "forwarding with" in open(log).read(), 60), open(log).read()
        good = open(path).read()
        with open(path, "w") as f:
            f.write(yaml_emit.dump({**cfg, "bogus_key": 1}))
        os.kill(p.pid, signal.SIGHUP)
        assert t.wait_for(lambda: "reload (SIGHUP) refused" in open(log).read(), 30)
        r = run(t.LBCTL, "--socket", cfg["admin"]["socket"], "reload", check=False)
        assert r.returncode == 1 and "unknown key 'bogus_key'" in r.stderr, r.stdout + r.stderr
        with open(path, "w") as f:
            f.write(good)
        r = run(t.LBCTL, "--socket", cfg["admin"]["socket"], "reload", check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        assert lab.stop(p, signal.SIGTERM) == 0
        lines = open(log).read().splitlines()
        for via in ("reload (SIGHUP)", "lbctl reload"):
            refused = [line for line in lines if f"{via} refused:" in line]
            assert len(refused) == 2, lines  # the error, then "unchanged"
            assert refused[0].startswith(f"<4>lb: warning: {via} refused: {path}:"), refused
            assert "unknown key 'bogus_key'" in refused[0], refused
            assert refused[1] == (f"<4>lb: warning: {via} refused: the running configuration "
                                  "is unchanged"), refused
        applied = [line for line in lines if "lbctl reload:" in line]
        assert len(applied) == 1 and applied[0].startswith("<6>lb: lbctl reload: "), lines


def dpdk_driver_directory():
    """Where the EAL loads its drivers from (RTE_EAL_PMD_PATH): the ring mempool driver's."""
    found = glob.glob("/usr/lib/*/dpdk/pmds-*/librte_mempool_ring.so.*")
    if not found:
        pytest.skip("no DPDK driver directory with the ring mempool driver on this machine")
    return os.path.dirname(found[0])


def test_without_the_ring_mempool_driver_lb_names_it_and_not_hugepages():
    """Issue 22: on a box without librte-mempool-ring23 (dpdk only recommends it) the packet
    buffer pool cannot be made; lb says which driver is missing instead of blaming hugepages.
    In a mount namespace of its own, lb sees DPDK's driver directory without that driver: links
    to every other file there, on a tmpfs over /mnt (the EAL loads no driver whose real path has
    a world-writable directory above it, as /tmp is)."""
    plugins = dpdk_driver_directory()
    with Lab("apm") as lab:
        cfg, path = null_device_config(lab, "net_null0")
        log = os.path.join(lab.tmp, "lb.log")
        script = f"""set -e
            mount -t tmpfs -o mode=0755 lb-test-pmds /mnt
            mkdir /mnt/real /mnt/view
            mount --bind {plugins} /mnt/real
            for f in /mnt/real/*; do
                case ${{f##*/}} in librte_mempool_ring.*) ;; *) ln -s "$f" /mnt/view/ ;; esac
            done
            mount --bind /mnt/view {plugins}
            exec "$@" """
        env = {**os.environ, "JOURNAL_STREAM": journal_log(log)}
        p = lab.spawn(lab.switch, "unshare", "--mount", "--propagation", "private", "sh", "-c",
                      script, "sh", t.LB, "--config", path, log=log, env=env)
        assert p.wait(timeout=60) == 1
        text = open(log).read()
        print(text)
        assert ("<3>lb: error: cannot create the packet buffer pool: DPDK's mempool driver "
                "'ring_mp_mc' is not loaded") in text, text
        errors = [line for line in text.splitlines() if line.startswith("<3>lb: error:")]
        assert len(errors) == 1, text
        assert "install librte-mempool-ring23" in errors[0] and plugins in errors[0], errors
        assert "hugepages" not in errors[0], errors
    # The namespace was lb's alone: the driver is still there for everyone else.
    assert os.path.exists(os.path.join(plugins, "librte_mempool_ring.so.23"))


def test_the_watchdog_pings_come_from_the_control_loop_and_stop_when_it_stalls():
    with Lab("apw") as lab:
        cfg, path = null_device_config(lab, "net_null0")
        notify = NotifySocket(lab.tmp)
        stall = os.path.join(lab.tmp, "stall")
        # WatchdogSec=600ms: lb pings every 300 ms (half), on its 100 ms housekeeping tick.
        env = {**os.environ, "NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "600000",
               "LB_TEST_STALL_CONTROL_LOOP_WHILE": stall}
        log = os.path.join(lab.tmp, "lb.log")
        p = lab.spawn(lab.switch, LB_STALLABLE, "--config", path, log=log, env=env)
        assert notify.wait_for("READY", 60) is not None, open(log).read()

        def pings(seconds):
            times, deadline = [], time.monotonic() + seconds
            while time.monotonic() < deadline:
                got = notify.receive(max(0.01, deadline - time.monotonic()))
                if got and "WATCHDOG" in got[1]:
                    times.append(got[0])
            return times

        running = pings(2.0)
        gaps = [b - a for a, b in zip(running, running[1:])]
        print(f"running: {len(running)} pings in 2 s, gaps {[round(g, 2) for g in gaps]}")
        # Every 300 ms (a tick may run late on a loaded box): rate-limited, not every 100 ms tick.
        assert 3 <= len(running) <= 8, running
        assert all(0.25 < g < 1.0 for g in gaps), gaps

        open(stall, "w").close()
        time.sleep(0.3)  # a ping already on its way
        notify.drain()
        stalled = pings(2.0)
        print(f"stalled: {len(stalled)} pings in 2 s")
        assert stalled == [], stalled
        assert p.poll() is None  # alive: only the loop is stuck, as a watchdog would see it
        # The loop answers nothing meanwhile, not even lbctl (its connection waits in the
        # backlog)...
        ctl = subprocess.Popen([t.LBCTL, "--socket", cfg["admin"]["socket"], "services"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.0)
            assert ctl.poll() is None
            os.unlink(stall)
            # ...and once it runs again, the pings resume and lbctl gets its answer.
            resumed = notify.wait_for("WATCHDOG", 2.0)
            assert resumed is not None
            out, err = ctl.communicate(timeout=10)
            assert ctl.returncode == 0 and "web" in out, out + err
        finally:
            if ctl.poll() is None:
                ctl.kill()
                ctl.wait()
        assert lab.stop(p, signal.SIGTERM) == 0
        notify.close()


# -- lb --check --hardware ----------------------------------------------------------------------

def fake_box(tmp, hugepages=(0, 0), hugetlbfs=False, devices=(), iommu=False, vfio=False,
             isolated=""):
    """A /sys and /proc tree as lb reads them. devices: (pci address, driver or None, netdev)."""
    def write(rel, text):
        os.makedirs(os.path.dirname(os.path.join(tmp, rel)), exist_ok=True)
        with open(os.path.join(tmp, rel), "w") as f:
            f.write(text)

    total, free = hugepages
    write("sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", f"{total}\n")
    write("sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", f"{free}\n")
    write("proc/mounts", "proc /proc proc rw 0 0\n" +
          ("hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n" if hugetlbfs else ""))
    write("sys/devices/system/cpu/isolated", isolated + "\n")
    for address, driver, netdev in devices:
        dev = os.path.join(tmp, "sys/bus/pci/devices", address)
        os.makedirs(dev)
        if driver:
            os.makedirs(os.path.join(tmp, "sys/bus/pci/drivers", driver), exist_ok=True)
            os.symlink(f"../../../../bus/pci/drivers/{driver}", os.path.join(dev, "driver"))
        if netdev:
            os.makedirs(os.path.join(dev, "net", netdev))
    if vfio:
        os.makedirs(os.path.join(tmp, "sys/bus/pci/drivers/vfio-pci"), exist_ok=True)
    os.makedirs(os.path.join(tmp, "sys/kernel/iommu_groups"))
    if iommu:
        os.makedirs(os.path.join(tmp, "sys/kernel/iommu_groups/0"))
    return tmp


def appliance_config(tmp, eal_args, devices=("0000:01:00.0", "0000:01:00.1")):
    text = open(os.path.join(ROOT, "packaging", "lb.yaml")).read()
    text = text.replace('["-a", "0000:01:00.0", "-a", "0000:01:00.1", "--in-memory"]',
                        "[" + ", ".join(f'"{a}"' for a in eal_args) + "]")
    text = text.replace('"0000:01:00.0"', f'"{devices[0]}"').replace('"0000:01:00.1"',
                                                                     f'"{devices[1]}"')
    path = os.path.join(tmp, "lb.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def hardware_check(config, root=None, extra=()):
    env = dict(os.environ)
    env.pop("LB_HARDWARE_ROOT", None)
    if root:
        env["LB_HARDWARE_ROOT"] = root
    r = run(t.LB, "--config", config, "--check", "--hardware", *extra, check=False, env=env)
    print(r.stdout + r.stderr)
    return r


def test_hardware_check_on_a_bare_box_says_what_to_do():
    with tempfile.TemporaryDirectory() as tmp:
        box = fake_box(os.path.join(tmp, "box"),
                       devices=[("0000:01:00.0", "ixgbe", "eth1"), ("0000:01:00.1", None, None)])
        r = hardware_check(appliance_config(tmp, ["-a", "0000:01:00.0"]), box)
        assert r.returncode == 1
        out = r.stdout
        assert "missing: hugepages: none reserved. Now: echo 512 > /proc/sys/vm/nr_hugepages" in out
        assert "NR_2M_PAGES=512 in /etc/dpdk/dpdk.conf" in out
        assert "missing: hugetlbfs: not mounted" in out and "--in-memory" in out
        assert ("missing: interface ext: PCI device 0000:01:00.0 is bound to the kernel driver "
                "ixgbe (kernel interface eth1), not to a DPDK driver") in out
        assert "ip link set eth1 down && modprobe vfio-pci && dpdk-devbind.py --bind=vfio-pci 0000:01:00.0" in out
        assert "'pci 0000:01:00.0 vfio-pci' in /etc/dpdk/interfaces" in out
        assert "missing: interface int: PCI device 0000:01:00.1 is bound to no driver" in out
        assert "missing: vfio-pci: the driver is not loaded. Now: modprobe vfio-pci" in out
        assert "missing: iommu: off, and vfio-pci needs it" in out and "intel_iommu=on" in out
        assert "note:    cpus: none isolated" in out and "isolcpus=" in out
        assert out.rstrip().endswith("fix each 'missing' line")


def test_hardware_check_on_a_ready_box_passes_and_names_a_missing_device_or_busy_hugepages():
    with tempfile.TemporaryDirectory() as tmp:
        ready = fake_box(os.path.join(tmp, "ready"), hugepages=(512, 500), hugetlbfs=True,
                         devices=[("0000:01:00.0", "vfio-pci", None),
                                  ("0000:01:00.1", "vfio-pci", None)],
                         iommu=True, vfio=True, isolated="2-3")
        config = appliance_config(tmp, ["-l", "1-3", "-a", "0000:01:00.0", "-a", "0000:01:00.1"])
        r = hardware_check(config, ready)
        assert r.returncode == 0, r.stdout
        assert "missing:" not in r.stdout
        assert "ok:      hugepages: 500 of 512 free (1000 MiB)" in r.stdout
        assert "ok:      hugetlbfs: mounted on /dev/hugepages" in r.stdout
        assert "ok:      interface ext: PCI device 0000:01:00.0 is bound to vfio-pci" in r.stdout
        assert "ok:      iommu: on" in r.stdout
        assert "ok:      cpus: isolated 2-3 (lcores pinned by -l/--lcores" in r.stdout

        busy = fake_box(os.path.join(tmp, "busy"), hugepages=(512, 0), hugetlbfs=True,
                        devices=[("0000:01:00.0", "vfio-pci", None)], iommu=True, vfio=True)
        r = hardware_check(config, busy)
        assert r.returncode == 1
        assert "missing: hugepages: all 512 reserved hugepages are in use" in r.stdout
        assert ("missing: interface int: no PCI device 0000:01:00.1 on this box; list them with "
                "dpdk-devbind.py --status") in r.stdout

        # An invalid configuration is reported as by --check, before any hardware look.
        broken = os.path.join(tmp, "broken.yaml")
        with open(broken, "w") as f:
            f.write("node: {name: x}\nbogus: 1\n")
        r = hardware_check(broken, ready)
        assert r.returncode == 1 and "hugepages" not in r.stdout
        r = run(t.LB, "--config", config, "--hardware", check=False)
        assert r.returncode == 2 and "--hardware goes with --check" in r.stderr


def meminfo_hugepages():
    values = {}
    with open("/proc/meminfo") as f:
        for line in f:
            key, _, rest = line.partition(":")
            values[key] = rest.split()[0]
    return int(values["HugePages_Total"]), int(values["HugePages_Free"])


def test_hardware_check_on_this_machine():
    """The real /sys and /proc: hugepages as /proc/meminfo says (present or not), virtual ports
    need no binding, and a PCI device of this box that its kernel driver holds (no NIC is bound
    to a DPDK driver here) is named with the command that binds it."""
    total, free = meminfo_hugepages()
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(ROOT, "conf", "nat.yaml")
        r = hardware_check(config)
        if total == 0:
            assert r.returncode == 1 and "missing: hugepages: none reserved" in r.stdout
        elif free == 0:
            assert r.returncode == 1 and "are in use" in r.stdout
        else:
            assert r.returncode == 0, r.stdout
            assert f"ok:      hugepages: {free} of {total} free" in r.stdout
        assert "ok:      interface ext: net_af_packet0 is a virtual device" in r.stdout

        held = []
        for address in sorted(os.listdir("/sys/bus/pci/devices")):
            link = f"/sys/bus/pci/devices/{address}/driver"
            if os.path.islink(link):
                driver = os.path.basename(os.readlink(link))
                if driver not in ("vfio-pci", "uio_pci_generic", "igb_uio", "mlx5_core",
                                  "mlx4_core"):
                    held.append((address, driver))
        if not held:
            pytest.skip("no PCI device held by a kernel driver on this machine")
        address, driver = held[0]
        r = hardware_check(appliance_config(tmp, ["--in-memory"], (address, "net_null0")))
        assert r.returncode == 1
        assert (f"missing: interface ext: PCI device {address} is bound to the kernel driver "
                f"{driver}") in r.stdout
        assert f"dpdk-devbind.py --bind=vfio-pci {address}" in r.stdout
