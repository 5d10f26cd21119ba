"""`lb --check` on every example configuration, and on broken files with their exact error
locations; an invalid file never starts the dataplane."""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import topology as t

CONF = sorted(glob.glob(os.path.join(t.ROOT, "conf", "*.yaml")))
BROKEN = sorted(glob.glob(os.path.join(t.ROOT, "test", "conf-broken", "*.yaml")))


def run_lb(*args):
    return subprocess.run([t.LB, *args], capture_output=True, text=True, timeout=30)


# The examples name the operator's replication key, which this machine does not have: the test
# gives them one (a copy of the file pointing at a key it made).
EXAMPLE_KEY = "/etc/lb/sync.key"


def with_test_key(path, tmp_path):
    with open(path) as f:
        text = f.read()
    if EXAMPLE_KEY not in text:
        return path
    key = tmp_path / "sync.key"
    key.write_text(os.urandom(32).hex() + "\n")
    key.chmod(0o600)
    copy = tmp_path / os.path.basename(path)
    copy.write_text(text.replace(EXAMPLE_KEY, str(key)))
    return str(copy)


@pytest.mark.parametrize("path", CONF, ids=os.path.basename)
def test_every_example_configuration_is_valid(path, tmp_path):
    r = run_lb("--config", with_test_key(path, tmp_path), "--check")
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


def expectations(path):
    """`# expect: LINE:COLUMN: text` lines at the top of a broken file."""
    out = []
    with open(path, errors="replace") as f:  # some hold bytes that are not UTF-8, on purpose
        for line in f:
            m = re.match(r"#\s*expect:\s*(\d+):(\d+):\s*(.*)$", line.rstrip("\n"))
            if m:
                out.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    return out


@pytest.mark.parametrize("path", BROKEN, ids=os.path.basename)
def test_broken_configuration_reports_every_error_with_its_location(path):
    expected = expectations(path)
    assert expected, f"{path} has no '# expect:' lines"
    r = run_lb("--config", path, "--check")
    assert r.returncode == 1
    errors = [l for l in r.stderr.splitlines() if l.startswith(path + ":")]
    assert len(errors) == len(expected), r.stderr
    for (line, column, text), got in zip(expected, errors):
        assert got.startswith(f"{path}:{line}:{column}: "), (got, line, column)
        assert text in got, (got, text)


def test_errors_printed_are_capped_and_counted(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text("node:\n  name: a\n" + "".join(f"  bogus{i}: 1\n" for i in range(30)) +
                    "interfaces: []\n")
    r = run_lb("--config", str(path), "--check")
    assert r.returncode == 1
    errors = [l for l in r.stderr.splitlines() if l.startswith(f"{path}:")]
    assert len(errors) == 20
    assert errors[0].startswith(f"{path}:3:3: unknown key 'bogus0'")
    assert errors[-1].startswith(f"{path}:22:3: unknown key 'bogus19'")
    assert "... and 10 more error(s)" in r.stderr
    assert "has 30 error(s)" in r.stderr


def test_check_needs_no_root_and_no_hugepages():
    # As nobody: only reading the file is needed. The checkout may sit where nobody cannot go (a
    # clone under /root, a 0700 mktemp -d): nobody runs copies of the binary and the example
    # from a directory it can traverse, so the test does not depend on where the tree lives.
    with tempfile.TemporaryDirectory(dir="/tmp") as top:
        os.chmod(top, 0o755)
        binary, path = os.path.join(top, "lb"), os.path.join(top, "demo.yaml")
        shutil.copy2(t.LB, binary)
        shutil.copy2(os.path.join(t.ROOT, "conf", "demo.yaml"), path)
        os.chmod(path, 0o644)
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            binary, "--config", path, "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout, r.stdout


def test_an_invalid_configuration_never_starts_the_dataplane():
    path = BROKEN[0]
    r = run_lb("--config", path)
    assert r.returncode == 1
    assert "nothing was started" in r.stderr
    assert "EAL" not in r.stderr


def test_missing_file_and_usage_errors():
    r = run_lb("--config", "/nonexistent.yaml", "--check")
    assert r.returncode == 1
    assert "cannot read /nonexistent.yaml: No such file or directory" in r.stderr
    assert ":0:0" not in r.stderr
    r = run_lb("--check")
    assert r.returncode == 2 and "--config FILE is required" in r.stderr
    r = run_lb("--bogus")
    assert r.returncode == 2


def test_version():
    r = run_lb("--version")
    assert r.returncode == 0 and r.stdout.startswith("lb ")


VRRP_HEAD = ("node: {name: a}\n"
             "interfaces:\n"
             "  - {name: ext, device: net_null0, address: 198.51.100.2/24}\n"
             "vrrp:\n")
# Lines 7-12 of both files below; each adds its track list after it.
VRRP_TRACKING_INSTANCE = ("  instances:\n"
                          "    - name: v\n"
                          "      interface: ext\n"
                          "      virtual_router_id: 9\n"
                          "      virtual_addresses: [198.51.100.100]\n"
                          "      track:\n")


def test_vrrp_tracking_and_sync_group_mistakes_are_located(tmp_path):
    path = tmp_path / "vrrp.yaml"
    path.write_text(VRRP_HEAD +
                    "  scripts:\n"
                    "    - {name: up, interval: 1s}\n" +
                    VRRP_TRACKING_INSTANCE +
                    "        - {interface: ext, weight: 300}\n"
                    "        - {script: up, service: web}\n")
    r = run_lb("--config", str(path), "--check")
    assert r.returncode == 1
    assert f"{path}:6:7: a VRRP tracking script needs 'command'" in r.stderr
    assert f"{path}:13:36: weight: a whole number -254..254" in r.stderr
    assert f"{path}:14:11: a tracked object names exactly one of" in r.stderr
    assert "has 3 error(s)" in r.stderr

    # Once every value parses, what they refer to is checked.
    path.write_text(VRRP_HEAD +
                    "  sync_groups:\n"
                    "    - {name: g, instances: [v, w]}\n" +
                    VRRP_TRACKING_INSTANCE +
                    "        - {service: web, weight: -20}\n"
                    "        - {script: nope}\n")
    r = run_lb("--config", str(path), "--check")
    assert r.returncode == 1
    assert f"{path}:6:7: sync group 'g': VRRP instance 'w' is not defined" in r.stderr
    assert f"{path}:13:11: tracked service 'web' is not defined" in r.stderr
    assert f"{path}:14:11: tracked script (vrrp.scripts) 'nope' is not defined" in r.stderr


def check_refuses(path, reason, *prefix):
    r = subprocess.run([*prefix, t.LB, "--config", str(path), "--check"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 1, r.stderr
    assert f"cannot read {path}: {reason}" in r.stderr
    assert ":0:0" not in r.stderr
    assert "has 1 error(s)" in r.stderr


def test_what_is_not_a_regular_file_is_refused_at_once(tmp_path):
    check_refuses(tmp_path, "is a directory")
    check_refuses("/dev/null", "not a regular file (character device)")
    check_refuses(tmp_path / "missing.yaml", "No such file or directory")
    # A FIFO with no writer: the timeout above fails the test if lb waits for one.
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    check_refuses(fifo, "not a regular file (FIFO)")


def test_an_unreadable_file_is_refused_with_the_reason():
    # Root reads any file: check as nobody (the way test_check_needs_no_root does). pytest's
    # tmp_path is below a 0700 directory, which would refuse nobody on the way to the file;
    # this directory lets nobody reach the file, whose own mode then refuses it.
    with tempfile.TemporaryDirectory(dir="/tmp") as top:
        os.chmod(top, 0o755)
        secret = os.path.join(top, "secret.yaml")
        with open(secret, "w") as f:
            f.write("node: {name: a}\n")
        os.chmod(secret, 0)
        as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        check_refuses(secret, "Permission denied", *as_nobody)


def test_a_huge_file_is_refused_on_its_size_without_reading_it(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(50_000_000)  # sparse: nothing to write, nothing to read
    start = time.monotonic()
    check_refuses(big, "50000000 bytes, over the 4 MiB limit for a configuration file")
    elapsed = time.monotonic() - start
    print(f"a 50 MB file refused in {elapsed * 1000:.0f} ms")
    assert elapsed < 2
