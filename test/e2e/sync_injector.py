"""Sends one replication datagram per named case to HOST:PORT, from the namespace it runs in,
built by hand from the wire format (version 2, modules/replication/codec.hpp) with the pair's key where
a case needs a valid MAC. Every case must be dropped by reason and change nothing.

The datagrams name this namespace's address as their sender and HOST as their receiver, with
SENDER_EPOCH (the run of the node whose address we send from, as HOST knows it) and
RECEIVER_EPOCH (HOST's run), unless a case is about getting one of these wrong. Their sequence
is the next one HOST expects (RECEIVED_THROUGH + 1), so that no case is refused for its number
before the check it is about; `replayed` carries RECEIVED_THROUGH itself.

usage: sync_injector.py HOST PORT KEY_FILE SENDER_EPOCH RECEIVER_EPOCH RECEIVED_THROUGH CASE..."""

import hashlib
import hmac
import os
import socket
import struct
import sys

MAGIC = 0x4C425359
VERSION = 2
HELLO, ENTRIES, ACK = 1, 2, 3
# Magic, version, type, flags, reserved, cluster id, sender epoch, receiver epoch, sequence,
# ack, body length, entry count, sender node, receiver node: 80 bytes.
HEADER = struct.Struct(">IBBBBIQQQQHH16s16s")
# An address of the documentation range that is no node of the pair.
STRANGER = "198.51.100.99"


def node_id(address):
    """A node as the protocol names it: IPv4-mapped IPv6 (::ffff:a.b.c.d)."""
    return bytes(10) + b"\xff\xff" + socket.inet_aton(address)


class Datagram:
    def __init__(self, key, sender, receiver, sender_epoch, receiver_epoch, sequence):
        self.key = key
        self.fields = {"version": VERSION, "type": ENTRIES, "cluster": 1,
                       "sender_epoch": sender_epoch, "receiver_epoch": receiver_epoch,
                       "sequence": sequence, "ack": 0, "sender": node_id(sender),
                       "receiver": node_id(receiver)}

    def unsigned(self, body=b"", count=0, **changes):
        f = dict(self.fields, **changes)
        return HEADER.pack(MAGIC, f["version"], f["type"], 0, 0, f["cluster"], f["sender_epoch"],
                           f["receiver_epoch"], f["sequence"], f["ack"], len(body), count,
                           f["sender"], f["receiver"]) + body

    def signed(self, body=b"", count=0, **changes):
        message = self.unsigned(body, count, **changes)
        return message + hmac.new(self.key, message, hashlib.sha256).digest()[:16]


def cases(d, sender, receiver):
    # A connection entry (kind 1) three bytes long: far shorter than its kind needs.
    short_entry = bytes([1, 3, 0, 0, 0])
    epoch, own = d.fields["sender_epoch"], d.fields["receiver_epoch"]
    return {
        "garbage": os.urandom(200),
        "truncated": d.unsigned()[:20],
        "oversized": d.signed() + b"trailing bytes",
        "unknown_version": d.signed(version=9),
        "wrong_cluster": d.signed(cluster=2),
        "bad_mac": d.unsigned() + os.urandom(16),
        "malformed_entry": d.signed(body=short_entry, count=1),
        # The peer's current runs and a sequence number it has sent already: a replay.
        "replayed": d.signed(sequence=d.fields["sequence"] - 1),
        # An epoch older than the peer's current one: a datagram of its previous run.
        "stale_epoch": d.signed(sender_epoch=epoch - 1, sequence=5),
        # The receiver's own datagram sent back to it: it names the receiver as its sender.
        "reflected": d.signed(sender=node_id(receiver), receiver=node_id(sender),
                              sender_epoch=own, receiver_epoch=epoch),
        # Signed as another node's, but from the peer's address.
        "wrong_sender": d.signed(sender=node_id(STRANGER)),
        # For another node; and for an earlier run of the receiver.
        "not_for_us": d.signed(receiver=node_id(STRANGER)),
        "not_for_us_earlier_run": d.signed(receiver_epoch=own - 1),
    }


def main(host, port, key_file, sender_epoch, receiver_epoch, received_through, names):
    with open(key_file, "rb") as f:
        key = f.read()
    if key.endswith(b"\n"):
        key = key[:-1]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((host, port))
    sender = s.getsockname()[0]
    d = Datagram(key, sender, host, sender_epoch, receiver_epoch, received_through + 1)
    all_cases = cases(d, sender, host)
    for name in names:
        s.send(all_cases[name])


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
         int(sys.argv[6]), sys.argv[7:])
