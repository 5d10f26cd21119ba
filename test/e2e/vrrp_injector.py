"""Sends one VRRP advertisement per named case, built with scapy, from the namespace it runs in.
Every case has priority 254, so that an advertisement that were wrongly accepted would make the
lb under test (priority 100) give up mastership.

usage: vrrp_injector.py LB_MAC CASE...
"""

import sys
import time

from scapy.all import IP, Ether, Raw, get_if_hwaddr, sendp
from scapy.layers.vrrp import VRRP, VRRPv3

SELF = "198.51.100.4"
LB = "198.51.100.2"
GROUP = "224.0.0.18"
GROUP_MAC = "01:00:5e:00:00:12"
VIP = {51: "198.51.100.100", 52: "198.51.100.101", 53: "198.51.100.102"}


def ether(dst):
    # scapy leaves the source zero without a route; a bridge drops such frames.
    return Ether(src=get_if_hwaddr("eth0"), dst=dst)


def v3(vrid=51, ttl=255, dst=GROUP, dst_mac=GROUP_MAC, **fields):
    addresses = fields.pop("addrlist", [VIP.get(vrid, VIP[51])])
    vrrp = VRRPv3(vrid=vrid, priority=254, ipcount=len(addresses), adv=10, addrlist=addresses)
    for k, v in fields.items():
        setattr(vrrp, k, v)
    return ether(dst_mac) / IP(src=SELF, dst=dst, ttl=ttl, proto=112) / vrrp


def v2(password=b"s3cret", adv=1):
    auth = password.ljust(8, b"\0")
    vrrp = VRRP(vrid=52, priority=254, ipcount=1, authtype=1, adv=adv, addrlist=[VIP[52]],
                auth1=int.from_bytes(auth[:4], "big"), auth2=int.from_bytes(auth[4:], "big"))
    return ether(GROUP_MAC) / IP(src=SELF, dst=GROUP, ttl=255, proto=112) / vrrp


def truncated():
    # An IPv4 packet of protocol 112 whose payload is 4 bytes: shorter than any VRRP header.
    return ether(GROUP_MAC) / IP(src=SELF, dst=GROUP, ttl=255, proto=112) / Raw(b"\x31\x33")


def cases(lb_mac):
    return {
        "bad_checksum": lambda: v3(chksum=0x1234),
        "bad_version": lambda: v3(version=4),
        "bad_ttl": lambda: v3(ttl=64),
        "wrong_vrid": lambda: v3(vrid=99),
        "bad_authentication": lambda: v2(password=b"wrong"),
        "wrong_interval": lambda: v2(adv=3),
        "bad_address_count": lambda: v3(addrlist=[VIP[51], "198.51.100.200"]),
        "truncated": truncated,
        "not_a_peer": lambda: v3(vrid=53, dst=LB, dst_mac=lb_mac),
        "valid": lambda: v3(),
    }


if __name__ == "__main__":
    lb_mac, names = sys.argv[1], sys.argv[2:]
    table = cases(lb_mac)
    for name in names:
        sendp(table[name](), iface="eth0", verbose=False)
        time.sleep(0.05)
