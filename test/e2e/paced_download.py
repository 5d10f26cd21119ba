"""An HTTP download read at a steady pace, to keep one connection busy for as long as a test
needs it: reads URL_PATH from HOST:PORT at RATE bytes per second until a line arrives on
stdin, then as fast as it can. A small receive buffer keeps the data that waits in the kernel
short, so that a stall on the path shows as a wait in recv(). Prints "progress BYTES" every
second and, at the end, "done BYTES SHA256 LONGEST_WAIT_MS" (the longest recv() wait), or
"failed REASON".

usage: paced_download.py HOST PORT URL_PATH RATE"""

import hashlib
import select
import socket
import sys
import time


def read_headers(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the headers ended")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    if " 200 " not in lines[0] + " ":
        raise ConnectionError(lines[0])
    fields = dict(x.split(":", 1) for x in lines[1:] if ":" in x)
    length = {k.strip().lower(): v.strip() for k, v in fields.items()}["content-length"]
    return int(length), body


def main(host, port, path, rate):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 10)
    sock.settimeout(30)
    sock.connect((host, port))
    sock.sendall(f"GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    length, body = read_headers(sock)
    digest = hashlib.sha256(body)
    got, longest = len(body), 0.0
    fast = False
    started = last_progress = time.monotonic()
    while got < length:
        if not fast and select.select([sys.stdin], [], [], 0)[0]:
            sys.stdin.readline()
            fast = True
        now = time.monotonic()
        if now - last_progress >= 1:
            print(f"progress {got}", flush=True)
            last_progress = now
        if not fast:
            ahead = (got - rate * (now - started)) / rate
            if ahead > 0:
                time.sleep(min(ahead, 0.05))
                continue
        before = time.monotonic()
        chunk = sock.recv(16 << 10)
        longest = max(longest, time.monotonic() - before)
        if not chunk:
            break
        digest.update(chunk)
        got += len(chunk)
    if got != length:
        print(f"failed {got} of {length} bytes", flush=True)
        return
    print(f"done {got} {digest.hexdigest()} {longest * 1000:.0f}", flush=True)


if __name__ == "__main__":
    try:
        main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    except (OSError, ValueError, KeyError) as e:
        print(f"failed {e!r}", flush=True)
