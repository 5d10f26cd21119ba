"""A UDP server for the test bed that answers every datagram with a fixed text, from one process.
socat's UDP4-RECVFROM with fork (what the tests used before) forks a shell per datagram and,
with the CPUs busy, now and then never answers at all: a health check then saw a loss that lb
had nothing to do with. Usage: udp_echo.py PORT TEXT [BIND_ADDRESS]"""
import socket
import sys


def main():
    port, text = int(sys.argv[1]), (sys.argv[2] + "\n").encode()
    bind = sys.argv[3] if len(sys.argv) > 3 else "0.0.0.0"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((bind, port))
    while True:
        _, peer = s.recvfrom(65535)
        s.sendto(text, peer)


if __name__ == "__main__":
    main()
