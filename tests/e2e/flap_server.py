#!/usr/bin/python3
"""A backend that flaps, for the BGP hysteresis test: it listens on PORT for
UP seconds, closes its listening socket for DOWN seconds (connections are
refused: a TCP health probe fails at once), and so on for SECONDS; then it
listens for good until it is ended. Each connection gets one HTTP answer
"backend NAME". Every loop is bounded; the flap count is written to stdout.

Usage: flap_server.py NAME PORT UP DOWN SECONDS
"""
import select
import socket
import sys
import time


def listener(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(64)
    return s


def serve_until(sock, name, until):
    """Answers connections on `sock` until time `until` (None: forever)."""
    while until is None or time.time() < until:
        wait = 0.2 if until is None else max(0.0, min(0.2, until - time.time()))
        ready, _, _ = select.select([sock], [], [], wait)
        if not ready:
            continue
        conn, _ = sock.accept()
        conn.settimeout(0.5)
        try:
            conn.recv(4096)
            body = f"backend {name}\n".encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        except OSError:
            pass  # a health probe connects and closes without a request
        finally:
            conn.close()


def main():
    name, port = sys.argv[1], int(sys.argv[2])
    up, down, seconds = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    end = time.time() + seconds
    flaps = 0
    sock = None
    while time.time() < end:
        sock = listener(port)
        serve_until(sock, name, min(end, time.time() + up))
        if time.time() >= end:
            break
        sock.close()
        flaps += 1
        time.sleep(min(down, max(0.0, end - time.time())))
    print(f"flaps {flaps}", flush=True)
    if sock is None or sock.fileno() < 0:
        sock = listener(port)
    serve_until(sock, name, None)


if __name__ == "__main__":
    main()
