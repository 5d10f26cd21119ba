#!/usr/bin/python3
"""A real server's IPIP decapsulation in user space, for kernels built without the ipip module
(CONFIG_NET_IPIP unset: `ip link add ... type ipip` says "Unknown device type").

It takes every IPv4 protocol-4 packet addressed to this host from a raw socket (with a raw socket
open for the protocol, the kernel delivers it there and sends no protocol-unreachable), checks the
outer header as a kernel would (version, IHL, header checksum, total length) and writes the inner
packet, untouched, into a TUN device: the kernel then receives it as if it came out of a tunnel
device, and the server's socket answers the client directly.

Usage: ipip_decap.py TUN_NAME STATUS_FILE. On SIGTERM it writes "decapsulated N bad M" to
STATUS_FILE (bad: outer headers a kernel would refuse) and exits."""

import fcntl
import os
import signal
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IPPROTO_IPIP = 4


def checksum_ok(header):
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def outer_is_valid(packet):
    if len(packet) < 40 or packet[0] >> 4 != 4:
        return False
    ihl = (packet[0] & 0x0F) * 4
    total = struct.unpack("!H", packet[2:4])[0]
    return ihl >= 20 and total == len(packet) and packet[9] == IPPROTO_IPIP and \
        checksum_ok(packet[:ihl]) and packet[ihl] >> 4 == 4


def main():
    tun_name, status_file = sys.argv[1], sys.argv[2]
    tun = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", tun_name.encode(), IFF_TUN | IFF_NO_PI))
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_IPIP)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    counts = {"decapsulated": 0, "bad": 0}

    def stop(*_):
        with open(status_file, "w") as f:
            f.write(f"decapsulated {counts['decapsulated']} bad {counts['bad']}\n")
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    with open(status_file, "w") as f:
        f.write("ready\n")
    while True:
        packet = raw.recv(65535)
        if not outer_is_valid(packet):
            counts["bad"] += 1
            continue
        counts["decapsulated"] += 1
        os.write(tun, packet[(packet[0] & 0x0F) * 4:])


if __name__ == "__main__":
    main()
