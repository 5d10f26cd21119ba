"""A scripted FTP control-channel peer for the bad-input tests: it greets, and answers each
client line as the test asks, splitting its replies across TCP segments where told.

Client lines and answers:
  SAY <hex> [<cut>]  -> the bytes <hex>, sent in two writes cut at byte <cut> (or in one)
  QUIT               -> "221 bye", then close
  anything else      -> "200 got <line>" (the client checks what reached the server)
"""

import socket
import sys
import threading
import time


def handle(conn):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.sendall(b"220 fake ftp\r\n")
    buffer = b""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            line = line.rstrip(b"\r")
            if line.startswith(b"SAY "):
                parts = line.split()
                payload = bytes.fromhex(parts[1].decode())
                if len(parts) > 2:
                    cut = int(parts[2])
                    conn.sendall(payload[:cut])
                    time.sleep(0.05)  # two segments
                    conn.sendall(payload[cut:])
                else:
                    conn.sendall(payload)
            elif line == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                conn.close()
                return
            else:
                conn.sendall(b"200 got " + line + b"\r\n")


def main():
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[1]) if len(sys.argv) > 1 else 21))
    s.listen(16)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
