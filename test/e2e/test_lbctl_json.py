"""Every `lbctl --json` answer is valid JSON whatever text real servers send: a health check's
reason carrying a banner with a carriage return, a control character, quotes, backslashes and
invalid UTF-8 (issue 10, item 4); errors are JSON too; tables show such bytes escaped."""

import json

import pytest

import topology as t
from netlab import Lab

BANNER = b'421 "busy" \\\\ back\x01slash \xff\xfe end\r\n'


@pytest.fixture
def env():
    lab = Lab("js")
    try:
        net = t.build(lab, "nat", workers=1)
        for name, (ns, _) in net.servers.items():
            lab.spawn(ns, "/usr/bin/python3", t.os.path.join(t.os.path.dirname(__file__),
                                                             "banner_server.py"),
                      "2121", repr(BANNER))
            lab.wait_for_port(ns, 2121)
        svc = t.service(net, "ftp", 21, backend_port=2121)
        svc["health_check"] = {"type": "send_expect", "expect": "220", "interval": "200ms",
                               "timeout": "150ms", "rise": 1, "fall": 1}
        lb = t.Balancer(net, t.base_config(net, [svc]))
        yield lab, net, lb
    finally:
        lab.cleanup()


def test_every_json_answer_parses_whatever_servers_send(env):
    lab, net, lb = env

    def reasons():
        code, out, err = lb.ctl("--json", "real-servers")
        assert code == 0, err
        return [s["health_reason"] for s in json.loads(out)]  # raises on invalid JSON

    assert t.wait_for(lambda: all("421" in r for r in reasons()), 10), reasons()
    reason = reasons()[0]
    assert '"busy"' in reason and "\\\\ back\x01slash" in reason and reason.endswith("end\r\n'")
    assert "\ufffd" in reason  # the invalid UTF-8, replaced
    # People get the control characters escaped.
    code, out, _ = lb.ctl("real-servers")
    assert code == 0 and "\\x01" in out and "\\x0d" in out and "\r" not in out
    for args in [("services",), ("connections",), ("stats",), ("vrrp",),
                 ("set-weight", "ftp", "203.0.113.11:2121", "2"),
                 ("drain", "ftp", "203.0.113.11:2121"), ("reload",)]:
        code, out, err = lb.ctl("--json", *args)
        assert code == 0, (args, err)
        json.loads(out)
    # Refusals and usage errors: JSON on stdout, with the exit status saying which.
    for args, status in [(("real-servers", "nope"), 1), (("drain", "ftp", "192.0.2.1"), 1),
                         (("set-weight", "ftp", "203.0.113.11", "x"), 1),
                         (("set-weight",), 2), (("frobnicate",), 2),
                         # No replication or bgp section: said so, as a refusal.
                         (("replication",), 1), (("bgp",), 1), (("drain-node",), 1)]:
        code, out, err = lb.ctl("--json", *args)
        assert code == status, (args, code, out, err)
        assert "error" in json.loads(out) or json.loads(out)["applied"] is False, out
    code, out, _ = lb.ctl("--json", "drain", "ftp", "192.0.2.1")
    assert json.loads(out)["applied"] is False
    with open(lb.stats_path) as f:
        json.load(f)
