#!/usr/bin/python3
"""A backend's servers for the end-to-end tests and the demo: HTTP/1.1 with
keep-alive on TCP port 80 (IPv4 and IPv6) and a UDP echo on port 5353, both
answering with the backend's name so the client can tell who served it.

GET / answers "backend NAME\n"; POST answers "backend NAME got N bytes\n".
Usage: backend_server.py NAME [--http-port P] [--udp-port P]
"""
import argparse
import http.server
import socket
import socketserver
import threading

# Linux's value; Python's socket module names it only from 3.12 on.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


class DualStackHttpServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        # One socket for both families: IPv4 clients appear as ::ffff:a.b.c.d.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def make_handler(name):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: long-lived connections

        def _answer(self, body):
            data = body.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._answer(f"backend {name}\n")

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            remaining, got = length, 0
            while remaining > 0:
                chunk = self.rfile.read(min(65536, remaining))
                if not chunk:
                    break
                got += len(chunk)
                remaining -= len(chunk)
            self._answer(f"backend {name} got {got} bytes\n")

        def log_message(self, *args):
            pass

    return Handler


def udp_echo(name, port, family):
    """Echo with the source address the client sent to: with DSR that is a
    VIP on lo, and a reply from the host's own address would not match the
    client's socket. IP_PKTINFO / IPV6_PKTINFO carry it in and out."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        level, kind = socket.IPPROTO_IPV6, socket.IPV6_PKTINFO
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        level, kind = socket.IPPROTO_IP, IP_PKTINFO
    sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", port))
    while True:
        data, ancillary, _, peer = sock.recvmsg(2048, socket.CMSG_SPACE(64))
        reply_info = []
        for cmsg_level, cmsg_type, cmsg_data in ancillary:
            if cmsg_level == level and cmsg_type == kind:
                if family == socket.AF_INET:
                    # struct in_pktinfo {ifindex; spec_dst; addr}: answer
                    # from addr (the destination the client used).
                    addr = cmsg_data[8:12]
                    reply_info = [(level, kind, b"\0\0\0\0" + addr + b"\0" * 4)]
                else:
                    # struct in6_pktinfo {addr; ifindex}: same address, any interface.
                    reply_info = [(level, kind, cmsg_data[0:16] + b"\0" * 4)]
        sock.sendmsg([f"backend {name}: ".encode() + data], reply_info, 0, peer)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("name")
    p.add_argument("--http-port", type=int, default=80)
    p.add_argument("--udp-port", type=int, default=5353)
    a = p.parse_args()
    for family in (socket.AF_INET, socket.AF_INET6):
        threading.Thread(target=udp_echo, args=(a.name, a.udp_port, family), daemon=True).start()
    DualStackHttpServer(("::", a.http_port), make_handler(a.name)).serve_forever()


if __name__ == "__main__":
    main()
