"""Start-up and shutdown of the real binary: EAL arguments after `--`, clear errors for devices
that do not exist or lack queues, SIGINT as well as SIGTERM."""

import os
import signal
import time

import topology as t
import yaml_emit
from netlab import Lab


def write_config(lab, devices, workers=1, eal=()):
    interfaces = [{"name": f"if{i}", "device": d, "address": f"198.51.{100 + i}.2/24"}
                  for i, d in enumerate(devices)]
    cfg = {"node": {"name": "lb-start"},
           "dpdk": {"eal_args": ["--no-pci", "--in-memory", "--log-level=*:warning", *eal],
                    "workers": workers},
           "interfaces": interfaces,
           "services": [{"name": "web", "vip": "198.51.100.100", "port": 80,
                         "real_servers": [{"address": "198.51.100.21"}]}],
           "tables": {"connections": 4096, "persistence_templates": 4096},
           "stats": {"file": os.path.join(lab.tmp, "stats.json"), "interval": "100ms"}}
    path = os.path.join(lab.tmp, "lb.yaml")
    with open(path, "w") as f:
        f.write(yaml_emit.dump(cfg))
    return path


def wait_log(path, text, process, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(path) as f:
            log = f.read()
        if text in log or process.poll() is not None:
            return log
        time.sleep(0.05)
    return open(path).read()


def test_eal_arguments_after_the_separator_are_appended_and_sigint_stops_cleanly():
    with Lab("st1") as lab:
        path = write_config(lab, ["net_null0"])
        log_path = os.path.join(lab.tmp, "lb.log")
        before = t.hugepage_files()
        p = lab.spawn(lab.switch, t.LB, "--config", path, "--", "--vdev=net_null0",
                      log=log_path)
        log = wait_log(log_path, "forwarding with", p)
        assert "forwarding with 1 worker(s)" in log, log
        assert lab.stop(p, signal.SIGINT) == 0
        log = open(log_path).read()
        assert "Interrupt received, shutting down" in log and "stopped cleanly" in log, log
        assert t.hugepage_files() - before == set()


def test_a_device_that_does_not_exist_is_a_clear_error():
    with Lab("st2") as lab:
        path = write_config(lab, ["net_null7"], eal=["--vdev=net_null0"])
        r = lab.run(lab.switch, t.LB, "--config", path, check=False, timeout=60)
        assert r.returncode == 1
        assert ("interface 'if0': DPDK device 'net_null7' does not exist (devices: net_null0)"
                in r.stderr), r.stderr
        # A PCI device no driver took (here: no PCI scan at all) is not a --vdev to add: lb
        # names what may be missing, its binding, -a, or its driver's package.
        path = write_config(lab, ["0000:99:00.0"], eal=["--vdev=net_null0"])
        r = lab.run(lab.switch, t.LB, "--config", path, check=False, timeout=60)
        assert r.returncode == 1
        assert ("interface 'if0': no DPDK driver took PCI device 0000:99:00.0 (devices: "
                "net_null0); bind it to vfio-pci") in r.stderr, r.stderr
        assert "librte-net-<driver>23" in r.stderr and "--vdev" not in r.stderr, r.stderr
        # A --vdev whose driver is not loaded fails in the EAL: lb says what to install.
        path = write_config(lab, ["net_nosuch0"], eal=["--vdev=net_nosuch0"])
        r = lab.run(lab.switch, t.LB, "--config", path, check=False, timeout=60)
        assert r.returncode == 1
        assert ("DPDK EAL initialisation failed: No such device (EAL arguments come from "
                "dpdk.eal_args and after --; a device there has no driver loaded") in r.stderr, \
            r.stderr


def test_two_workers_need_two_queues_per_port():
    with Lab("st3") as lab:
        ns = lab.add_namespace("lb")
        lab.add_bridge("sw0")
        lab.dpdk_link(ns, "ext0", "sw0")
        path = write_config(lab, ["net_af_packet0"], workers=2,
                            eal=["--vdev=net_af_packet0,iface=ext0"])
        r = lab.run(ns, t.LB, "--config", path, check=False, timeout=60)
        assert r.returncode == 1
        assert "2 workers need one pair each (for net_af_packet add qpairs=2" in r.stderr, r.stderr
