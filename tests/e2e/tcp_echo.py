#!/usr/bin/python3
"""A TCP session to a host's own address, for the ports tests: an echo
server and a client that sends a number of bytes and checks every one comes
back. Bounded: the server ends after its lifetime, the client after its
timeout; results are printed as JSON.

  tcp_echo.py serve ADDR PORT SECONDS      echo every connection's bytes back
  tcp_echo.py send HOST PORT BYTES [TIMEOUT]
                 one connection: BYTES bytes out, the same bytes back;
                 prints {"ok", "bytes", "seconds", "mbit_per_s"}
"""
import json
import socket
import sys
import threading
import time


def serve(addr, port, seconds):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(16)
    srv.settimeout(0.5)
    deadline = time.time() + seconds

    def echo(conn):
        conn.settimeout(10)
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()

    while time.time() < deadline:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=echo, args=(conn,), daemon=True).start()


def send(host, port, total, timeout=30.0):
    pattern = bytes(range(256)) * 256  # 64 KiB, position-dependent: reordering shows
    started = time.time()
    result = {"ok": False, "bytes": 0, "seconds": 0.0, "mbit_per_s": 0.0, "error": None}
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.settimeout(timeout)
        received = bytearray()
        sent = 0

        def reader():
            while len(received) < total:
                data = sock.recv(65536)
                if not data:
                    break
                received.extend(data)

        t = threading.Thread(target=reader, daemon=True)
        t.start()
        while sent < total and time.time() - started < timeout:
            chunk = pattern[: min(len(pattern), total - sent)]
            sock.sendall(chunk)
            sent += len(chunk)
        t.join(max(0.1, timeout - (time.time() - started)))
        sock.close()
        expected = (pattern * (total // len(pattern) + 1))[:total]
        result["bytes"] = len(received)
        result["ok"] = bytes(received) == expected
    except OSError as e:
        result["error"] = str(e)
    result["seconds"] = time.time() - started
    if result["ok"] and result["seconds"] > 0:
        result["mbit_per_s"] = 2 * total * 8 / result["seconds"] / 1e6  # both directions
    return result


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        serve(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif cmd == "send":
        timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 30.0
        print(json.dumps(send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), timeout)))
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
