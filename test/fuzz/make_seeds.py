#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into test/fuzz/corpus/<target>/seed-*: well-formed
examples of what each parser meets, and the inputs that once crashed lb (regression-*), so that
the fuzzers start from real traffic and the crashes replay in every test run. Deterministic:
running it again rewrites the same files. Inputs that fuzzing finds later are added as
corpus/<target>/regression-<what> by hand (scripts/fuzz prints where a crash was saved)."""

import ipaddress
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

CLIENT_MAC = bytes.fromhex("020000000010")
PORT0_MAC = bytes.fromhex("020000000001")
PORT1_MAC = bytes.fromhex("020000000002")
RS1_MAC = bytes.fromhex("025100000011")


def ip(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4(src: str, dst: str, proto: int, payload: bytes, ttl: int = 64) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, ttl, proto, 0,
                         ip(src), ip(dst))
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def tcp(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
        data: bytes = b"") -> bytes:
    segment = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    pseudo = ip(src) + ip(dst) + struct.pack("!BBH", 0, 6, len(segment))
    c = checksum(pseudo + segment)
    return segment[:16] + struct.pack("!H", c) + segment[18:]


def udp(sport: int, dport: int, data: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def ether(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def client_tcp(dst: str, dport: int, seq: int, ack: int, flags: int, data: bytes = b"",
               sport: int = 40000) -> bytes:
    src = "198.51.100.10"
    return ether(PORT0_MAC, CLIENT_MAC, 0x0800,
                 ipv4(src, dst, 6, tcp(src, dst, sport, dport, seq, ack, flags, data)))


def server_tcp(src: str, sport: int, dport: int, seq: int, ack: int, flags: int,
               data: bytes = b"") -> bytes:
    dst = "198.51.100.10"
    return ether(PORT1_MAC, RS1_MAC, 0x0800,
                 ipv4(src, dst, 6, tcp(src, dst, sport, dport, seq, ack, flags, data)))


def arp_request(target: str) -> bytes:
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, CLIENT_MAC, ip("198.51.100.10"),
                       b"\0" * 6, ip(target))
    return ether(b"\xff" * 6, CLIENT_MAC, 0x0806, body)


def icmp_echo(dst: str) -> bytes:
    body = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"ping"
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    return ether(PORT0_MAC, CLIENT_MAC, 0x0800, ipv4("198.51.100.10", dst, 1, body))


def vrrp_v3(src: str, vrid: int, priority: int, addresses: list[str]) -> bytes:
    msg = struct.pack("!BBBBHH", 0x31, vrid, priority, len(addresses), 100, 0)
    msg += b"".join(ip(a) for a in addresses)
    pseudo = ip(src) + ip("224.0.0.18") + struct.pack("!BBH", 0, 112, len(msg))
    c = checksum(pseudo + msg)
    return msg[:6] + struct.pack("!H", c) + msg[8:]


def ip6(a: str) -> bytes:
    return ipaddress.IPv6Address(a).packed


CLIENT6 = "2001:db8:c::10"
VIP6 = "2001:db8:100::100"


def l4_checksum6(src: str, dst: str, proto: int, segment: bytes) -> int:
    """RFC 8200 8.1: the pseudo-header holds the upper layer's length and protocol."""
    pseudo = ip6(src) + ip6(dst) + struct.pack("!IxxxB", len(segment), proto)
    return checksum(pseudo + segment)


# Extension headers as (type, bytes after the next-header byte, which ipv6() fills in).
HOP_BY_HOP = (0, bytes([0, 1, 4, 0, 0, 0, 0]))  # 8 bytes, PadN
DEST_OPTS = (60, bytes([0, 1, 4, 0, 0, 0, 0]))
ROUTING_DONE = (43, bytes([2, 0, 0, 0, 0, 0, 0]) + ip6("2001:db8::1"))  # segments left 0
ATOMIC_FRAGMENT = (44, struct.pack("!BHI", 0, 0, 0x1234))  # offset 0, M 0 (RFC 6946)
FIRST_FRAGMENT = (44, struct.pack("!BHI", 0, 1, 0x1234))  # M 1


def ipv6(src: str, dst: str, proto: int, segment: bytes,
         extensions: tuple[tuple[int, bytes], ...] = ()) -> bytes:
    """The fixed header, the extension headers in order, then the upper layer `proto`."""
    kinds = [kind for kind, _ in extensions] + [proto]
    chain = b"".join(bytes([kinds[i + 1]]) + body for i, (_, body) in enumerate(extensions))
    payload = chain + segment
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), kinds[0], 64, ip6(src),
                       ip6(dst)) + payload


def tcp6(src: str, dst: str, sport: int, dport: int, seq: int, ack: int, flags: int,
         data: bytes = b"") -> bytes:
    segment = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    c = l4_checksum6(src, dst, 6, segment)
    return segment[:16] + struct.pack("!H", c) + segment[18:]


def udp6(src: str, dst: str, sport: int, dport: int, data: bytes) -> bytes:
    datagram = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = l4_checksum6(src, dst, 17, datagram) or 0xFFFF
    return datagram[:6] + struct.pack("!H", c) + datagram[8:]


def icmp6_echo(src: str, dst: str) -> bytes:
    message = struct.pack("!BBHHH", 128, 0, 0, 77, 1) + b"ping"
    c = l4_checksum6(src, dst, 58, message)
    return message[:2] + struct.pack("!H", c) + message[4:]


def client6(proto: int, segment: bytes,
            extensions: tuple[tuple[int, bytes], ...] = ()) -> bytes:
    return ether(PORT0_MAC, CLIENT_MAC, 0x86DD, ipv6(CLIENT6, VIP6, proto, segment, extensions))


def worker_input(frames: list[tuple[int, bytes]]) -> bytes:
    """Records for worker_fuzz: (flags, frame); see worker_fuzz.cpp for the flags."""
    return b"".join(struct.pack("!BH", flags, len(f)) + f for flags, f in frames)


ACK, PSH, SYN, FIN, RST = 0x10, 0x08, 0x02, 0x01, 0x04
VIP = "198.51.100.100"
RS1 = "203.0.113.11"

FTP_LINES = {
    "pasv": b"227 Entering Passive Mode (203,0,113,11,39,16).",
    "pasv-bare": b"227 =203,0,113,11,4,1",
    "epsv": b"229 Entering Extended Passive Mode (|||6446|)",
    "port": b"PORT 198,51,100,10,156,64",
    "eprt": b"EPRT |1|198.51.100.10|40000|",
    "eprt-lower": b"eprt |1|198.51.100.10|40000|",
    "regression-bare-eprt": b"EPRT",
    "regression-bare-port": b"PORT",
    "regression-bare-227": b"227",
    "regression-bare-229": b"229",
}

FRAMES = {
    "arp": arp_request(VIP),
    "icmp": icmp_echo(VIP),
    "tcp-syn": client_tcp(VIP, 21, 0, 0, SYN),
    "udp": ether(PORT0_MAC, CLIENT_MAC, 0x0800,
                 ipv4("198.51.100.10", "198.51.100.103", 17, udp(5353, 53, b"query"))),
    "vrrp": ether(b"\x01\x00\x5e\x00\x00\x12", bytes.fromhex("00005e000133"), 0x0800,
                  ipv4("198.51.100.3", "224.0.0.18", 112,
                       vrrp_v3("198.51.100.3", 51, 100, [VIP]), ttl=255)),
    "tcp6-syn": client6(6, tcp6(CLIENT6, VIP6, 40000, 80, 0, 0, SYN)),
    "udp6": client6(17, udp6(CLIENT6, VIP6, 5353, 53, b"query")),
    "icmp6-echo": client6(58, icmp6_echo(CLIENT6, VIP6)),
    # Every extension header lb skips, in the order RFC 8200 4.1 recommends.
    "tcp6-extensions": client6(6, tcp6(CLIENT6, VIP6, 40000, 80, 0, 0, SYN),
                               (HOP_BY_HOP, DEST_OPTS, ROUTING_DONE, ATOMIC_FRAGMENT, DEST_OPTS)),
    "udp6-fragment": client6(17, udp6(CLIENT6, VIP6, 5353, 53, b"query"), (FIRST_FRAGMENT,)),
}

VRRP = {
    # 7 bytes choosing the expectation (worker: vrrp_codec_fuzz.cpp), then the message.
    "v3": bytes([0x07, 51, 1, 1, 255, 1, 0]) + vrrp_v3("198.51.100.3", 51, 100, [VIP]),
}

WORKER = {
    # The process killer: a SYN to the NAT FTP service, then the line "EPRT" alone.
    "regression-bare-eprt": worker_input([
        (4, client_tcp(VIP, 21, 0, 0, SYN)),
        (4, client_tcp(VIP, 21, 1, 1, ACK | PSH, b"EPRT\r\n")),
    ]),
    "ftp-nat-passive": worker_input([
        (4, client_tcp(VIP, 21, 0, 0, SYN)),
        (5, server_tcp(RS1, 21, 40000, 0, 1, SYN | ACK)),
        (4, client_tcp(VIP, 21, 1, 1, ACK)),
        (5, server_tcp(RS1, 21, 40000, 1, 1, ACK | PSH,
                       b"227 Entering Passive Mode (203,0,113,11,39,16).\r\n")),
        (4, client_tcp(VIP, 10000, 0, 0, SYN, sport=40001)),
        (4, client_tcp(VIP, 21, 1, 52, ACK | PSH, b"PORT 198,51,100,10,156,64\r\n")),
        (5, server_tcp(RS1, 20, 40000, 0, 0, SYN)),
        (4, client_tcp(VIP, 21, 28, 52, ACK | FIN)),
    ]),
    "ftp-dr-group": worker_input([
        (0, client_tcp("198.51.100.102", 21, 0, 0, SYN)),
        (0, client_tcp("198.51.100.102", 10050, 0, 0, SYN, sport=40002)),
        (4, client_tcp("198.51.100.102", 20, 5, 9, SYN | ACK, sport=40003)),
    ]),
    "mh-adopt-and-reset": worker_input([
        (4, client_tcp("198.51.100.101", 80, 100, 200, ACK | PSH, b"GET / HTTP/1.0\r\n\r\n")),
        (0x14, client_tcp("198.51.100.103", 443, 5, 6, ACK)),
        (4, client_tcp("198.51.100.103", 443, 0, 0, SYN)),
        (5, server_tcp(RS1, 443, 40000, 0, 1, RST)),
    ]),
    "local": worker_input([(4, FRAMES["arp"]), (4, FRAMES["icmp"]), (4, FRAMES["udp"]),
                           (4, FRAMES["vrrp"])]),
    # IPv6 among IPv4 in one burst: parsed, counted ipv6_not_enabled, the IPv4 SYN served.
    "ipv6-mixed": worker_input([(0, FRAMES["tcp6-syn"]), (0, client_tcp(VIP, 21, 0, 0, SYN)),
                                (0, FRAMES["udp6"]), (0, FRAMES["icmp6-echo"]),
                                (4, FRAMES["tcp6-extensions"])]),
}


def sync_datagram(kind: int, entries: list[bytes], cluster: int = 1, flags: int = 0) -> bytes:
    """A replication datagram without its MAC (sync_codec_fuzz.cpp signs what it is given):
    the header of modules/replication/codec.hpp, then kind/length/payload entries."""
    body = b"".join(entries)
    return struct.pack(">IBBBBIQIIHH", 0x4C425359, 1, kind, flags, 0, cluster,
                       0x0123456789ABCDEF, 7, 3, len(body), len(entries)) + body


def sync_entry(kind: int, payload: bytes) -> bytes:
    return bytes([kind, len(payload)]) + payload


SYNC_FLOW = bytes([6]) + ip("198.51.100.10") + struct.pack(">H", 40000) + ip(VIP) + struct.pack(">H", 80)
SYNC_SERVICE = ip(VIP) + bytes([6, 0]) + struct.pack(">H", 80)
SYNC_CONNECTION = sync_entry(1, bytes([3, 0x09, 1]) + SYNC_FLOW + SYNC_SERVICE + ip(RS1) +
                             struct.pack(">H", 8080) + bytes.fromhex("02000000002a") +
                             struct.pack(">III", 900000, 1000, 2000))
SYNC_TEMPLATE = sync_entry(2, ip("198.51.100.0") + bytes([24]) + SYNC_SERVICE + ip(RS1) +
                           struct.pack(">HI", 8080, 360000))
SYNC_FTP = sync_entry(3, SYNC_FLOW + struct.pack(">IiiBII", 1000, 0, 3, 1, 0, 0))
SYNC_DELETE = sync_entry(4, bytes([1]) + SYNC_FLOW)
SYNC = {
    "entries": sync_datagram(2, [SYNC_CONNECTION, SYNC_TEMPLATE, SYNC_FTP, SYNC_DELETE]),
    "bulk": sync_datagram(2, [SYNC_CONNECTION] * 20, flags=1),
    "hello": sync_datagram(1, [sync_entry(16, bytes(32) + struct.pack(">I", 5))], flags=4),
    "ack": sync_datagram(3, [sync_entry(17, struct.pack(">IH", 5, 2))]),
    "unknown-kind": sync_datagram(2, [sync_entry(200, b"later")]),
}


def write(target: str, seeds: dict[str, bytes]) -> None:
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        filename = name if name.startswith("regression-") else "seed-" + name
        with open(os.path.join(directory, filename), "wb") as f:
            f.write(data)


def main() -> int:
    write("ftp_commands", FTP_LINES)
    write("frame_parser", FRAMES)
    write("vrrp_codec", VRRP)
    write("sync_codec", SYNC)
    write("worker", WORKER)
    write("config_loader", {"minimal": b"node: {name: a}\n"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
