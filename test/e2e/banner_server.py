"""A TCP server that greets every connection with fixed bytes, given as a Python bytes literal
(e.g. b'421 busy\\r\\n'), then closes: a real server whose banner carries whatever bytes a
health check must survive."""

import ast
import socket
import sys

port, banner = int(sys.argv[1]), ast.literal_eval(sys.argv[2])
with socket.create_server(("0.0.0.0", port), reuse_port=True) as server:
    while True:
        conn, _ = server.accept()
        with conn:
            conn.sendall(banner)
