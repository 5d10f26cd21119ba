"""Sends one replication datagram per named case to HOST:PORT, from the namespace it runs in,
built by hand from the wire format (control/sync/codec.hpp) with the pair's key where a case
needs a valid MAC. Every case must be dropped by reason and change nothing.

usage: sync_injector.py HOST PORT KEY_FILE PEER_EPOCH CASE..."""

import hashlib
import hmac
import os
import socket
import struct
import sys

MAGIC = 0x4C425359
ENTRIES, HELLO = 2, 1


def header(version=1, type_=ENTRIES, cluster=1, epoch=1, sequence=1, ack=0, body=b"", count=0):
    return struct.pack(">IBBBBIIIIIHH", MAGIC, version, type_, 0, 0, cluster, epoch >> 32,
                       epoch & 0xFFFFFFFF, sequence, ack, len(body), count) + body


def signed(key, message):
    return message + hmac.new(key, message, hashlib.sha256).digest()[:16]


def cases(key, epoch):
    # A connection entry (kind 1) three bytes long: far shorter than its kind needs.
    short_entry = bytes([1, 3, 0, 0, 0])
    return {
        "garbage": os.urandom(200),
        "truncated": header()[:20],
        "oversized": signed(key, header(epoch=epoch, sequence=1)) + b"trailing bytes",
        "unknown_version": signed(key, header(version=9, epoch=epoch)),
        "wrong_cluster": signed(key, header(cluster=2, epoch=epoch)),
        "bad_mac": header(epoch=epoch, sequence=999999) + os.urandom(16),
        "malformed_entry": signed(key, header(epoch=epoch, sequence=1, body=short_entry,
                                              count=1)),
        # The peer's own epoch and a sequence number it sent long ago: a replay.
        "replayed": signed(key, header(epoch=epoch, sequence=1)),
        # An epoch older than the peer's current one: a datagram of its previous run.
        "stale_epoch": signed(key, header(epoch=epoch - 1, sequence=5)),
    }


def main(host, port, key_file, epoch, names):
    with open(key_file, "rb") as f:
        key = f.read()
    if key.endswith(b"\n"):
        key = key[:-1]
    all_cases = cases(key, epoch)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for name in names:
        s.sendto(all_cases[name], (host, port))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5:])
