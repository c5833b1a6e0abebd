#!/usr/bin/python3
"""The client side of the end-to-end tests and the demo, run inside the
client's network namespace. Every loop is bounded in count and time; results
are printed (or written) as JSON.

  client_tool.py http-many HOST PORT COUNT        short connections, one request each
                 (the local ports of those that failed are listed)
  client_tool.py http-long HOST PORT CONNS SECONDS OUT [TIMEOUT [INTERVAL]]
                 keep-alive connections, a request on each every INTERVAL
                 seconds (default 0.1), until SECONDS pass or SIGTERM; a
                 request not answered within TIMEOUT seconds (default 3)
                 fails its connection; writes per-connection results (with
                 the connection's local port) to OUT
  client_tool.py http-long-post HOST PORT CONNS SECONDS OUT BYTES [TIMEOUT [INTERVAL]]
                 as http-long, but every request uploads BYTES bytes and the
                 answer must say that many arrived (data both ways, checked)
  client_tool.py http-ports HOST PORT FIRST COUNT one connection from each local port
                 FIRST..FIRST+COUNT-1 (fixed source ports: the flows are
                 known in advance); prints which backend answered each port
  client_tool.py udp-many HOST PORT COUNT         one datagram per source port
  client_tool.py udp-flows HOST PORT FIRST COUNT PER_FLOW
                 COUNT flows from local ports FIRST..FIRST+COUNT-1, PER_FLOW
                 datagrams each, every one answered; prints per port the
                 backends that answered and how many answers came
  client_tool.py tcp-connect HOST PORT COUNT      connects only: each outcome and its time
  client_tool.py udp-error HOST PORT COUNT        connected UDP: an answer, or the ICMP
                 error the kernel reports (ECONNREFUSED for port unreachable)
  client_tool.py post HOST PORT BYTES             one upload, DF set (Linux default)
  client_tool.py udp-send HOST PORT COUNT         COUNT datagrams from one socket, no
                 answer awaited (traffic that may go nowhere: counted elsewhere)
"""
import errno
import http.client
import json
import os
import signal
import socket
import sys
import time


def backend_of(body):
    # "backend NAME..." -> NAME
    parts = body.split()
    return parts[1].rstrip(":") if len(parts) > 1 and parts[0] == "backend" else None


def http_many(host, port, count):
    per_backend, failures, errors, failed_ports = {}, 0, [], []
    deadline = time.time() + 120
    for _ in range(count):
        if time.time() > deadline:
            failures += 1
            continue
        local_port = None
        try:
            conn = http.client.HTTPConnection(host, port, timeout=3)
            # Bound before connecting, so that a connection refused or reset
            # during its handshake still names its port.
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                                 socket.SOCK_STREAM)
            conn.sock = sock
            sock.settimeout(3)
            sock.bind(("", 0))
            local_port = sock.getsockname()[1]
            sock.connect((host, port))
            conn.request("GET", "/", headers={"Connection": "close"})
            body = conn.getresponse().read().decode()
            conn.close()
            name = backend_of(body)
            per_backend[name] = per_backend.get(name, 0) + 1
        except (OSError, http.client.HTTPException) as e:
            failures += 1
            if len(errors) < 5:
                errors.append(str(e) or repr(e))
            if local_port is not None:
                failed_ports.append(local_port)
            conn.close()
    return {"per_backend": per_backend, "failures": failures, "errors": errors,
            "failed_ports": failed_ports}


def http_ports(host, port, first, count):
    ports, failures, errors = {}, 0, []
    deadline = time.time() + 120
    for local_port in range(first, first + count):
        if time.time() > deadline:
            failures += 1
            continue
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                             socket.SOCK_STREAM)
        conn = http.client.HTTPConnection(host, port, timeout=3)
        try:
            # A port used by an earlier run may still be in TIME_WAIT.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.settimeout(3)
            sock.bind(("", local_port))
            sock.connect((host, port))
            conn.sock = sock
            conn.request("GET", "/", headers={"Connection": "close"})
            ports[local_port] = backend_of(conn.getresponse().read().decode())
        except (OSError, http.client.HTTPException) as e:
            failures += 1
            ports[local_port] = None
            if len(errors) < 5:
                errors.append(f"port {local_port}: {e!r}")
        finally:
            conn.close()
            sock.close()
    return {"ports": ports, "failures": failures, "errors": errors}


def http_long(host, port, conns, seconds, out_path, timeout=3.0, interval=0.1, post_bytes=0):
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    state = []
    for _ in range(conns):
        c = http.client.HTTPConnection(host, port, timeout=timeout)
        state.append({"conn": c, "port": None, "backends": [], "ok": 0, "failed": 0,
                      "errors": []})
    deadline = time.time() + seconds
    while not stop[0] and time.time() < deadline:
        for s in state:
            if s["failed"]:
                continue  # a broken connection stays broken: count, not retry
            try:
                if post_bytes:
                    # A different body every time, so nothing stale passes.
                    body = (b"%d:" % s["ok"]).ljust(post_bytes, b"x")
                    s["conn"].request("POST", "/", body=body)
                    answer = s["conn"].getresponse().read().decode()
                    if f"got {post_bytes} bytes" not in answer:
                        raise ValueError(f"sent {post_bytes} bytes, the backend said {answer!r}")
                else:
                    s["conn"].request("GET", "/")
                    answer = s["conn"].getresponse().read().decode()
                name = backend_of(answer)
                if not s["backends"] or s["backends"][-1] != name:
                    s["backends"].append(name)
                # http.client reconnects silently after the server closed a
                # connection: a new local port is a new connection, not this one.
                sock_port = s["conn"].sock.getsockname()[1] if s["conn"].sock else None
                if s["port"] is not None and sock_port != s["port"]:
                    raise ConnectionError(f"reconnected from port {s['port']} to {sock_port}")
                s["port"] = sock_port
                s["ok"] += 1
            except (OSError, http.client.HTTPException, ValueError) as e:
                s["failed"] += 1
                s["errors"].append(repr(e))
        with open(out_path + ".tmp", "w") as f:
            json.dump([{k: v for k, v in s.items() if k != "conn"} for s in state], f)
        os.replace(out_path + ".tmp", out_path)
        time.sleep(interval)
    return None


def udp_many(host, port, count):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    per_backend, failures = {}, 0
    for i in range(count):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.settimeout(1.0)
        s.bind(("", 0))  # a new source port: a new flow
        try:
            s.sendto(b"ping %d" % i, (host, port))
            data, peer = s.recvfrom(2048)
            if peer[0] != host:
                failures += 1  # the answer must come from the VIP (DSR)
                continue
            name = backend_of(data.decode())
            per_backend[name] = per_backend.get(name, 0) + 1
        except OSError:
            failures += 1
        finally:
            s.close()
    return {"per_backend": per_backend, "failures": failures}


def udp_flows(host, port, first, count, per_flow):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    flows, unanswered = {}, 0
    deadline = time.time() + 120
    for local_port in range(first, first + count):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.settimeout(1.0)
        s.bind(("", local_port))
        seen = {"backends": [], "answers": 0}
        try:
            for k in range(per_flow):
                if time.time() > deadline:
                    unanswered += 1
                    continue
                try:
                    s.sendto(b"flow %d packet %d" % (local_port, k), (host, port))
                    data, peer = s.recvfrom(2048)
                except OSError:
                    unanswered += 1
                    continue
                seen["answers"] += 1
                name = backend_of(data.decode())
                if name not in seen["backends"]:
                    seen["backends"].append(name)
        finally:
            s.close()
        flows[str(local_port)] = seen
    return {"flows": flows, "unanswered": unanswered}


def tcp_connect(host, port, count):
    """Connects `count` times; each attempt's outcome ("ok" or the error)
    and how long it took: a refused connection fails at once, a dropped SYN
    only after retries."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    attempts = []
    for _ in range(count):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(5.0)
        start = time.time()
        try:
            s.connect((host, port))
            outcome = "ok"
        except OSError as e:
            outcome = errno.errorcode.get(e.errno, str(e)) if e.errno else str(e)
        finally:
            s.close()
        attempts.append({"outcome": outcome, "seconds": round(time.time() - start, 3)})
    return {"attempts": attempts}


def udp_error(host, port, count):
    """Sends on a connected UDP socket and reads: an ICMP port unreachable
    comes back as ECONNREFUSED (Linux reports ICMP errors on connected UDP
    sockets)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    outcomes = []
    for i in range(count):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.settimeout(2.0)
        s.connect((host, port))
        try:
            s.send(b"ping %d" % i)
            s.recv(2048)
            outcomes.append("answer")
        except OSError as e:
            outcomes.append(errno.errorcode.get(e.errno, "timeout") if e.errno else "timeout")
        finally:
            s.close()
    return {"outcomes": outcomes}


def udp_send(host, port, count):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sent = 0
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        for i in range(count):
            try:
                s.sendto(b"udp-send %d" % i, (host, port))
                sent += 1
            except OSError:
                pass  # an ICMP error reported on the socket: not ours to count
    return {"sent": sent}


def post(host, port, size):
    conn = http.client.HTTPConnection(host, port, timeout=20)
    body = b"x" * size
    start = time.time()
    conn.request("POST", "/upload", body=body, headers={"Content-Type": "application/octet-stream"})
    answer = conn.getresponse().read().decode()
    return {"answer": answer.strip(), "seconds": round(time.time() - start, 3)}


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "http-many":
        result = http_many(args[0], int(args[1]), int(args[2]))
    elif cmd == "http-long":
        result = http_long(args[0], int(args[1]), int(args[2]), float(args[3]), args[4],
                           *map(float, args[5:7]))
    elif cmd == "http-long-post":
        result = http_long(args[0], int(args[1]), int(args[2]), float(args[3]), args[4],
                           *map(float, args[6:8]), post_bytes=int(args[5]))
    elif cmd == "http-ports":
        result = http_ports(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif cmd == "udp-many":
        result = udp_many(args[0], int(args[1]), int(args[2]))
    elif cmd == "udp-flows":
        result = udp_flows(args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4]))
    elif cmd == "tcp-connect":
        result = tcp_connect(args[0], int(args[1]), int(args[2]))
    elif cmd == "udp-error":
        result = udp_error(args[0], int(args[1]), int(args[2]))
    elif cmd == "udp-send":
        result = udp_send(args[0], int(args[1]), int(args[2]))
    elif cmd == "post":
        result = post(args[0], int(args[1]), int(args[2]))
    else:
        sys.exit(f"unknown command {cmd}")
    if result is not None:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
