"""Replays captured replication datagrams, byte for byte, with any source address. Plain
sockets, no scapy: it starts in a fraction of the time.

usage: sync_replay.py list PCAP
           one JSON object per IPv4 UDP datagram of the capture (classic pcap, Ethernet): src,
           sport, dst, dport, type (the header's message type byte) and payload (hex)
       sync_replay.py send IFACE DST_MAC SRC SPORT DST DPORT PAYLOAD_HEX
           one Ethernet frame out of IFACE to DST_MAC, from SRC:SPORT to DST:DPORT"""

import json
import socket
import struct
import sys

from udp_flows import checksum, datagram

TYPE_OFFSET = 5  # magic u32, version u8, then the message type
ETH_P_IP = 0x0800


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    assert linktype == 1, f"not Ethernet: link type {linktype}"
    offset = 24
    while offset + 16 <= len(data):
        captured = struct.unpack(endian + "I", data[offset + 8:offset + 12])[0]
        yield data[offset + 16:offset + 16 + captured]
        offset += 16 + captured


def udp_datagrams(path):
    for frame in frames(path):
        if len(frame) < 14 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IP:
            continue
        ip = frame[14:]
        header_length = (ip[0] & 0x0F) * 4
        if ip[9] != socket.IPPROTO_UDP:
            continue
        total = struct.unpack("!H", ip[2:4])[0]
        udp = ip[header_length:total]
        sport, dport = struct.unpack("!HH", udp[:4])
        payload = udp[8:]
        yield {"src": socket.inet_ntoa(ip[12:16]), "sport": sport,
               "dst": socket.inet_ntoa(ip[16:20]), "dport": dport,
               "type": payload[TYPE_OFFSET] if len(payload) > TYPE_OFFSET else None,
               "payload": payload.hex()}


def ipv4_header(src, dst, length):
    fields = [0x45, 0, 20 + length, 0, 0x4000, 64, socket.IPPROTO_UDP, 0,
              socket.inet_aton(src), socket.inet_aton(dst)]
    header = struct.pack("!BBHHHBBH4s4s", *fields)
    fields[7] = checksum(header)
    return struct.pack("!BBHHHBBH4s4s", *fields)


def send(iface, dst_mac, src, sport, dst, dport, payload_hex):
    udp = datagram(src, dst, int(sport), int(dport), bytes.fromhex(payload_hex))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    own_mac = s.getsockname()[4]
    ethernet = bytes.fromhex(dst_mac.replace(":", "")) + own_mac + struct.pack("!H", ETH_P_IP)
    s.send(ethernet + ipv4_header(src, dst, len(udp)) + udp)


if __name__ == "__main__":
    if sys.argv[1] == "list":
        for d in udp_datagrams(sys.argv[2]):
            print(json.dumps(d))
    else:
        send(*sys.argv[2:9])
