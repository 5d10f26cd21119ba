"""Drives fake_ftp_server.py through lb and checks every byte of both streams.

Reads a JSON list of steps on stdin; prints a JSON report: for each step the bytes received
back (hex). Steps: {"say": hex, "cut": n|null} or {"send": text, "cut": n|null} (the client's
own line, split in two writes at `cut`, echoed back by the server)."""

import json
import socket
import sys
import time


def read_line(sock, buffer):
    while b"\n" not in buffer[0]:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        buffer[0] += data
    line, buffer[0] = buffer[0].split(b"\n", 1)
    return line + b"\n"


def main():
    vip, steps = sys.argv[1], json.load(sys.stdin)
    sock = socket.create_connection((vip, 21), timeout=20)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buffer = [b""]
    report = {"greeting": read_line(sock, buffer).hex(), "steps": []}
    for step in steps:
        if "say" in step:
            command = f"SAY {step['say']}" + (f" {step['cut']}" if step.get("cut") else "")
            sock.sendall(command.encode() + b"\r\n")
            expected_lines = bytes.fromhex(step["say"]).count(b"\n")
            got = b"".join(read_line(sock, buffer) for _ in range(expected_lines))
        else:
            line = (step["send"] + "\r\n").encode()
            cut = step.get("cut")
            if cut:
                sock.sendall(line[:cut])
                time.sleep(0.05)
                sock.sendall(line[cut:])
            else:
                sock.sendall(line)
            got = read_line(sock, buffer)
        report["steps"].append(got.hex())
    sock.sendall(b"QUIT\r\n")
    report["quit"] = read_line(sock, buffer).hex()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
