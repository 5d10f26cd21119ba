"""Many UDP flows at little cost: one datagram from each of COUNT source ports (FIRST_PORT on)
of this namespace's address to HOST:PORT, sent on a raw socket (no socket per port), paced so
that a receive ring on the way does not overflow. Each datagram makes one connection on a load
balancer; sending the same set again touches the same connections. Prints "sent N".

usage: udp_flows.py HOST PORT COUNT [FIRST_PORT [PER_SECOND]]"""

import socket
import struct
import sys
import time


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF or 0xFFFF


def source_address(host, port):
    """The address the kernel sends from towards `host` (a connected UDP socket's name)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect((host, port))
    address = probe.getsockname()[0]
    probe.close()
    return address


def datagram(source, host, sport, dport, payload):
    length = 8 + len(payload)
    pseudo = socket.inet_aton(source) + socket.inet_aton(host) + struct.pack("!BBH", 0, 17, length)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    return struct.pack("!HHHH", sport, dport, length, checksum(pseudo + header + payload)) + payload


def main(host, port, count, first_port=10000, per_second=20000):
    source = source_address(host, port)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    batch = 200
    started = time.monotonic()
    for i in range(count):
        sport = first_port + i
        raw.sendto(datagram(source, host, sport, port, f"flow {sport}\n".encode()), (host, 0))
        if (i + 1) % batch == 0:
            # Pace: never ahead of `per_second` since the start.
            ahead = (i + 1) / per_second - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
    print(f"sent {count}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
         *(int(x) for x in sys.argv[4:6]))
