#!/usr/bin/python3
"""The control API's robustness against a real lb-controlplane with no
dataplane: garbage, a non-object, a blank line, a line over 64 MiB, a half
line then a close, invalid UTF-8, pipelined and concurrent clients; the
daemon stays up and answers the next valid request, and every refused
change leaves config.export, the state file and `status` as they were.
Reachability: 1,000 idle connections, then a real `lbctl status` answers
within a second (idle connections make room for new ones, each told why);
an idle connection is closed after --client-idle-timeout-ms. Also: options
from a --config file with the command line winning, the socket's mode, a
second daemon on the same socket refused, SIGTERM removing the socket and
keeping the state, and a corrupt state file refused and moved aside.

Usage: api_robustness_test.py PATH/TO/lb-controlplane PATH/TO/lbctl
"""
import glob
import json
import os
import random
import resource
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cp_client import check, failures, report, ApiClient, call, start_controlplane, stop, wait_for_socket  # noqa: E402



BASE_CONFIG = {"vips": [
    {"address": "192.0.2.10", "port": 80, "protocol": "tcp", "table_size": 251,
     "backends": [{"name": "web-1", "address": "198.51.100.1"},
                  {"name": "web-2", "address": "198.51.100.2", "weight": 2}]},
    {"address": "2001:db8::10", "port": 0, "protocol": "udp", "encap": "gue",
     "backends": [{"name": "dns-1", "address": "198.51.100.53"}]}]}

REFUSED_CHANGES = [
    ({"op": "vip.add", "vip": {"address": "192.0.2.10", "port": 80, "protocol": "tcp"}}, "invalid"),
    ({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": 80, "protocol": "tcp",
                               "table_size": 1000}}, "invalid"),
    ({"op": "vip.add", "vip": {"address": "192.0.2.11", "port": 80}}, "usage"),
    ({"op": "vip.del", "vip": "192.0.2.99:80/tcp"}, "not_found"),
    ({"op": "backend.add", "vip": "192.0.2.10:80/tcp",
      "backend": {"name": "web-1", "address": "198.51.100.9"}}, "invalid"),
    ({"op": "backend.add", "vip": "192.0.2.10:80/tcp",
      "backend": {"name": "bad name", "address": "198.51.100.9"}}, "invalid"),
    ({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "weight": 10**7}, "invalid"),
    ({"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "state": "gone"}, "invalid"),
    ({"op": "backend.del", "vip": "192.0.2.10:80/tcp", "name": "web-9"}, "not_found"),
    ({"op": "config.apply", "config": {"vips": [{"address": "192.0.2.10", "port": 70000,
                                                 "protocol": "tcp"}]}}, "invalid"),
    ({"op": "config.apply", "config": {"vips": [
        {"address": "2001:db8::20", "port": 0, "protocol": "tcp",
         "backends": [{"name": "a", "address": "198.51.100.1"}]}]}}, "invalid"),
    ({"op": "config.apply", "config": "not an object"}, "usage"),
    ({"op": "config.apply", "config": {"vips": [], "extra": True}}, "invalid"),
]


IDLE_CLIENTS = 1000


def raise_fd_limit(need):
    """1,000 client sockets need more than the usual 1,024 descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        return None
    try:
        if hard != resource.RLIM_INFINITY and hard < need:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, need))  # root may raise it
        else:
            resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    except (ValueError, OSError) as e:
        return f"cannot raise the descriptor limit from {soft}/{hard} to {need}: {e}"
    return None


def read_until_eof(sock, timeout=3.0):
    """Everything the daemon sends until it closes; None if it does not close."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return data
    except socket.timeout:
        return None


def unavailable_line(data, says):
    """True if `data` is exactly one answer line: an 'unavailable' error saying `says`."""
    if data is None or data.count(b"\n") != 1 or not data.endswith(b"\n"):
        return False
    a = json.loads(data)
    return (a.get("ok") is False and a["error"]["code"] == "unavailable" and
            says in a["error"]["message"])


def status_of(sock_path):
    """The status answer without what moves by itself (uptime, and the
    connection counters each request advances)."""
    st = call(sock_path, {"op": "status"})["result"]
    st["controlplane"].pop("uptime_s", None)
    st["controlplane"].pop("api", None)
    return st


def reachability(binary, lbctl, tmp, args, sock_path, proc):
    """1,000 idle connections, then lbctl status; the short idle timeout and
    a small cap on a second daemon."""
    problem = raise_fd_limit(IDLE_CLIENTS + 256)
    check(problem is None, problem or "descriptor limit raised for 1,000 clients")
    if problem:
        return
    idle = []
    try:
        for _ in range(IDLE_CLIENTS):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            # Blocking: a Unix socket whose listen backlog is full makes a
            # non-blocking connect fail with EAGAIN; a blocking one waits.
            s.connect(sock_path)
            idle.append(s)
        started = time.monotonic()
        r = subprocess.run([lbctl, "--socket", sock_path, "status"], capture_output=True,
                           text=True, timeout=10)
        took = time.monotonic() - started
        check(r.returncode == 0 and "control plane" in r.stdout and took < 1.0,
              f"with {IDLE_CLIENTS} idle connections open, lbctl status answers in "
              f"{took * 1000:.0f} ms (limit 1000; exit {r.returncode}) {r.stderr.strip()}")
        check(proc.poll() is None, "the daemon is still running")
        # The cap (64): the oldest idle ones made room, each told why, then closed.
        made_room = IDLE_CLIENTS - 63
        told = sum(unavailable_line(read_until_eof(s), "idle the longest")
                   for s in idle[:made_room])
        check(told == made_room,
              f"{told} of the {made_room} idle connections closed to make room read one "
              f"'unavailable' answer, then end-of-file")
        for s in idle[made_room:]:
            s.settimeout(0.01)
        still_open = 0
        for s in idle[made_room:]:
            try:
                still_open += s.recv(1) == b""  # EOF would be b""
            except socket.timeout:
                still_open += 1
        check(still_open == 63, f"the 63 newest idle connections are still served ({still_open})")
    finally:
        for s in idle:
            s.close()
    status = call(sock_path, {"op": "status"})
    check(status["ok"] is True, "status answers after all that")
    api = status.get("result", {}).get("controlplane", {}).get("api", {})
    check(api.get("evicted_idle", 0) >= IDLE_CLIENTS - 63 and api.get("max_clients") == 64,
          f"status counts the idle connections closed to make room: {api}")

    # A second daemon with a short idle timeout and a cap of 2.
    sock2 = os.path.join(tmp, "small.sock")
    proc2 = start_controlplane(binary, [
        "--instance", "small-" + str(os.getpid()), "--socket", sock2,
        "--state-file", os.path.join(tmp, "small.json"), "--max-clients", "2",
        "--client-idle-timeout-ms", "400"], os.path.join(tmp, "small.log"))
    try:
        wait_for_socket(sock2, proc2)
        quiet = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        quiet.connect(sock2)
        chatty = ApiClient(sock2)
        started = time.monotonic()
        while time.monotonic() - started < 1.0:
            chatty.call({"op": "vip.list"})
            time.sleep(0.1)
        data = read_until_eof(quiet, timeout=0.5)
        check(unavailable_line(data, "without a request") and
              b"--client-idle-timeout-ms" in data,
              f"an idle connection is closed after 400 ms, told why: {data!r}")
        check(chatty.call({"op": "status"})["ok"] is True,
              "a connection sending a request every 100 ms stays open")
        # At the cap of 2: a newcomer closes the longest-idle one.
        other = ApiClient(sock2)
        other.call({"op": "status"})
        time.sleep(0.1)
        chatty.call({"op": "status"})  # `other` is now the idle one
        newcomer = ApiClient(sock2)
        check(newcomer.call({"op": "status"})["ok"] is True, "a third client at a cap of 2 is served")
        data = read_until_eof(other.sock, timeout=1.0)
        check(unavailable_line(data, "idle the longest") and b"--max-clients" in data,
              f"the longest-idle one made room, told why: {data!r}")
        check(chatty.call({"op": "status"})["ok"] is True, "the busy one kept its connection")
        for c in (chatty, newcomer, other):
            c.close()
        quiet.close()
    finally:
        stop(proc2, timeout=5)


def main(binary, lbctl):
    tmp = tempfile.mkdtemp(prefix="sluice-cp-robust-")
    instance = f"cp-robust-{os.getpid()}"
    sock_path = os.path.join(tmp, "run", "cp.sock")
    state_path = os.path.join(tmp, "lib", "state.json")
    audit_path = os.path.join(tmp, "audit.log")
    log_path = os.path.join(tmp, "daemon.log")
    conf_path = os.path.join(tmp, "daemon.conf")
    with open(conf_path, "w") as f:
        # The file sets the state file and a socket the command line overrides.
        f.write(f"# lb-controlplane config\nstate-file = {state_path}\n"
                f"socket = {os.path.join(tmp, 'not-this.sock')}\n"
                f"ack-timeout-ms = 1000\naudit-log = {audit_path}\n")
    args = ["--config", conf_path, "--instance", instance, "--socket", sock_path]
    procs = []
    try:
        proc = start_controlplane(binary, args, log_path)
        procs.append(proc)
        wait_for_socket(sock_path, proc)
        check(not os.path.exists(os.path.join(tmp, "not-this.sock")),
              "the command line's --socket wins over the config file's")
        mode = stat.S_IMODE(os.stat(sock_path).st_mode)
        check(mode == 0o660, f"socket mode is 0660 (got {oct(mode)})")

        st = call(sock_path, {"op": "status"})
        check(st["ok"] and st["result"]["dataplane"]["attached"] is False,
              "status without a dataplane says attached: false")
        check(instance in st["result"]["dataplane"].get("reason", ""),
              "status explains why no dataplane is attached")
        check(st["result"]["controlplane"]["state_file"] == state_path,
              "state file taken from the config file")

        a = call(sock_path, {"op": "config.apply", "config": BASE_CONFIG})
        check(a.get("ok") is True and a.get("dataplane") == "not attached" and
              a["result"]["vips_added"] == 2, f"base config applied without a dataplane: {a}")
        accepted = 1
        export = call(sock_path, {"op": "config.export"})
        state_bytes = open(state_path, "rb").read()

        def unchanged(what):
            check(call(sock_path, {"op": "config.export"}) == export and
                  open(state_path, "rb").read() == state_bytes,
                  f"{what}: config.export and the state file are unchanged")

        # Garbage, a non-object, invalid UTF-8, an empty object: error
        # answers on a connection that stays usable.
        c = ApiClient(sock_path)
        for raw, name in [(b"garbage\n", "garbage"), (b"[1, 2, 3]\n", "a non-object"),
                          (b"\"status\"\n", "a JSON string"), (b"{}\n", "an object without op"),
                          (b"{\"op\": \"status\"\xff\xfe}\n", "invalid UTF-8"),
                          (b"{\"op\": \"status\",\n", "a cut object")]:
            c.send_raw(raw)
            ans = c.read_line()
            check(ans.get("ok") is False and ans["error"]["code"] == "usage",
                  f"{name} gets a usage error: {ans}")
        check(c.call({"op": "status"})["ok"] is True, "the same connection answers a valid request")
        c.close()

        # Deep nesting (which would recurse once per level when copied or
        # printed) is refused before it is parsed.
        c = ApiClient(sock_path)
        depth = 300000
        c.send_raw(b'{"op": "config.apply", "config": {"vips": ' + b"[" * depth + b"]" * depth +
                   b"}}\n")
        ans = c.read_line()
        check(ans.get("ok") is False and "deeper than" in ans["error"]["message"],
              f"a request nested {depth} deep is refused: {ans}")
        check(c.call({"op": "status"})["ok"] is True, "and the daemon is fine")
        c.close()

        # Random bytes and mangled valid requests (fixed seed): an answer
        # per line, never a crash.
        rng = random.Random(1234)
        c = ApiClient(sock_path)
        # Queries only: a mangled change might turn into an acceptable one.
        valid = [json.dumps(r).encode() for r in [
            {"op": "status"}, {"op": "vip.list"}, {"op": "config.export"},
            {"op": "vip.show", "vip": "192.0.2.10:80/tcp"},
            {"op": "backend.list", "vip": "[2001:db8::10]:0/udp"},
            {"op": "config.check", "config": BASE_CONFIG},
            {"op": "flow.explain", "client": "203.0.113.9", "client_port": 999,
             "vip": "192.0.2.10", "vip_port": 80, "protocol": "tcp"}]]
        answered = 0
        for i in range(300):
            if i % 2:
                line = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
            else:
                line = bytearray(rng.choice(valid))
                for _ in range(rng.randrange(1, 4)):
                    line[rng.randrange(len(line))] = rng.randrange(256)
                line = bytes(line)
            line = line.replace(b"\n", b" ").replace(b"\r", b" ")
            if not line.strip(b" \t"):
                continue
            c.send_raw(line + b"\n")
            ans = c.read_line()
            answered += ans.get("ok") in (True, False)
        check(answered > 250, f"random and mangled lines each get an answer ({answered})")
        c.close()
        unchanged("random lines")
        export = call(sock_path, {"op": "config.export"})
        state_bytes = open(state_path, "rb").read()

        # Pipelined requests in one write are answered in order.
        c = ApiClient(sock_path)
        c.send_raw(b"".join(json.dumps({"op": op}).encode() + b"\n"
                            for op in ["status", "vip.list", "bogus", "config.export"]))
        answers = [c.read_line() for _ in range(4)]
        check([a["ok"] for a in answers] == [True, True, False, True] and
              "vips" in answers[1]["result"] and "config" in answers[3]["result"],
              "pipelined requests are answered in order")
        c.close()

        # Every line gets an answer: a blank one an error, on a connection
        # that stays usable.
        status_before = status_of(sock_path)
        c = ApiClient(sock_path)
        for raw, name in [(b"\n", "an empty line"), (b"  \t \r\n", "a line of blanks")]:
            c.send_raw(raw)
            ans = c.read_line()
            check(ans.get("ok") is False and ans["error"]["code"] == "usage" and
                  "empty request" in ans["error"]["message"],
                  f"{name} gets a usage error 'empty request': {ans}")
        check(c.call({"op": "status"})["ok"] is True, "and the connection still answers")
        c.close()

        # A key twice in one request ("op" overridden inside it).
        c = ApiClient(sock_path)
        c.send_raw(b'{"op": "vip.del", "vip": "192.0.2.10:80/tcp", "op": "status"}\n')
        ans = c.read_line()
        check(ans.get("ok") is False and ans["error"]["code"] == "usage" and
              ans["error"].get("field") == "op" and
              "duplicate key 'op'" in ans["error"]["message"],
              f"a request with the key 'op' twice is refused, naming it: {ans}")
        c.close()
        check(call(sock_path, {"op": "vip.show", "vip": "192.0.2.10:80/tcp"})["ok"] is True,
              "and the VIP its first 'op' would have deleted is still there")

        # A request of exactly 1 MiB is fine; a line over 64 MiB gets an error
        # and a close.
        c = ApiClient(sock_path, timeout=60)
        body = b'{"op": "status"}'
        c.send_raw(body + b" " * ((1 << 20) - len(body)) + b"\n")
        check(c.read_line().get("ok") is True, "a request of exactly 1 MiB is answered")
        c.send_raw(b'{"op": "status", "pad": "' + b"x" * ((64 << 20) + 1) + b'"}\n')
        ans = c.read_line()
        check(ans.get("ok") is False and ans["error"]["code"] == "usage" and
              "64 MiB" in ans["error"]["message"],
              f"a line over 64 MiB gets an error answer: {str(ans)[:200]}")
        check(c.at_eof(), "the daemon closes the connection after a too-long line")
        c.close()
        check(status_of(sock_path) == status_before,
              "status is unchanged by the blank, duplicate-key and too-long lines")

        # A half line then a close; a client that connects and says nothing.
        c = ApiClient(sock_path)
        c.send_raw(b'{"op": "sta')
        c.close()
        silent = ApiClient(sock_path)
        # A last line without newline before EOF is still answered.
        c = ApiClient(sock_path)
        c.send_raw(b'{"op": "status"}')
        c.sock.shutdown(socket.SHUT_WR)
        check(c.read_line().get("ok") is True, "a final request without newline is answered")
        check(c.at_eof(), "and the connection is closed after it")
        c.close()

        # Many clients at once, interleaved.
        clients = [ApiClient(sock_path) for _ in range(20)]
        for i, cl in enumerate(clients):
            cl.send_raw(json.dumps({"op": "backend.list", "vip": "192.0.2.10:80/tcp"}).encode()
                        + b"\n")
        ok = all(cl.read_line()["result"]["backends"][0]["name"] == "web-1" for cl in clients)
        check(ok, "20 concurrent clients are all answered")
        for cl in clients:
            cl.close()
        silent.close()

        check(proc.poll() is None, "the daemon is still running after all of that")
        check(call(sock_path, {"op": "status"})["ok"] is True, "and answers the next valid request")
        unchanged("garbage")

        status_before = status_of(sock_path)
        reachability(binary, lbctl, tmp, args, sock_path, proc)
        check(status_of(sock_path) == status_before, "status is unchanged by the idle clients")
        unchanged("idle clients")

        status_before = status_of(sock_path)
        for req, code in REFUSED_CHANGES:
            ans = call(sock_path, req)
            check(ans.get("ok") is False and ans["error"]["code"] == code and
                  ans["error"]["message"],
                  f"{req['op']} refused with {code}: {ans.get('error', ans)}")
        unchanged("refused changes")
        check(status_of(sock_path) == status_before, "refused changes: status is unchanged")

        # Accepted changes: the audit log has one line each.
        for req in [{"op": "backend.set", "vip": "192.0.2.10:80/tcp", "name": "web-1", "weight": 3},
                    {"op": "backend.del", "vip": "[2001:db8::10]:0/udp", "name": "dns-1"}]:
            check(call(sock_path, req).get("ok") is True, f"{req['op']} accepted")
            accepted += 1
        lines = [json.loads(l) for l in open(audit_path)]
        check(len(lines) == accepted and [l["op"] for l in lines] ==
              ["config.apply", "backend.set", "backend.del"] and
              all(l["generation"] is None and l["time"].endswith("Z") for l in lines),
              f"one audit line per accepted change ({len(lines)} lines)")
        # Re-applying the exported config is a no-op.
        export = call(sock_path, {"op": "config.export"})
        again = call(sock_path, {"op": "config.apply", "config": export["result"]["config"]})
        check(again.get("ok") is True and again["result"]["changed"] is False,
              f"export then apply changes nothing: {again}")
        check(len(open(audit_path).readlines()) == accepted, "a no-op is not audited")
        state_bytes = open(state_path, "rb").read()

        # A second daemon on the same socket refuses to start.
        second = subprocess.run([binary, "--instance", instance + "-b", "--socket", sock_path,
                                 "--state-file", os.path.join(tmp, "other.json")],
                                capture_output=True, text=True, timeout=20)
        check(second.returncode != 0 and "another lb-controlplane" in second.stderr,
              f"a second daemon on the same socket is refused: {second.stderr.strip()}")
        second = subprocess.run([binary, "--instance", instance + "-c",
                                 "--socket", os.path.join(tmp, "other.sock"),
                                 "--state-file", state_path],
                                capture_output=True, text=True, timeout=20)
        check(second.returncode != 0 and "uses state file" in second.stderr,
              f"a second daemon on the same state file is refused: {second.stderr.strip()}")
        check(call(sock_path, {"op": "status"})["ok"] is True, "the first one still serves")

        # SIGTERM: clean stop, socket removed, state kept for the next start.
        vips_before = call(sock_path, {"op": "vip.list"})
        rc = stop(proc)
        check(rc == 0, f"SIGTERM stops the daemon cleanly (exit {rc})")
        check(not os.path.exists(sock_path), "the socket file is removed")
        check(open(state_path, "rb").read() == state_bytes, "the state file is kept")
        proc = start_controlplane(binary, args, log_path)
        procs.append(proc)
        wait_for_socket(sock_path, proc)
        check(call(sock_path, {"op": "config.export"}) == export,
              "a restarted daemon has the same state")
        # Health verdicts start again with the daemon (health_since, the last
        # probe): compare what the state holds.
        def stored(answer):
            for vip in answer.get("result", {}).get("vips", []):
                for be in vip.get("backends", []):
                    for k in ("health_since", "last_probe_result", "last_probe_latency_ms"):
                        be.pop(k, None)
            return answer
        check(stored(call(sock_path, {"op": "vip.list"})) == stored(vips_before),
              "ids are the same after a restart")
        stop(proc)

        # A corrupt state file: refused, moved aside, never overwritten.
        with open(state_path, "wb") as f:
            f.write(state_bytes[: len(state_bytes) // 2])
        bad = subprocess.run([binary] + args, capture_output=True, text=True, timeout=20)
        moved = glob.glob(state_path + ".corrupt-*")
        check(bad.returncode != 0, f"a truncated state file stops the start (exit {bad.returncode})")
        check(state_path in bad.stderr and "corrupt" in bad.stderr and "refusing to start" in bad.stderr,
              f"the message names the file and the problem: {bad.stderr.strip()}")
        check(len(moved) == 1 and not os.path.exists(state_path) and
              open(moved[0], "rb").read() == state_bytes[: len(state_bytes) // 2],
              f"the file is moved aside intact: {moved}")
        check(not os.path.exists(sock_path), "no socket was left behind")
    finally:
        for p in procs:
            stop(p, timeout=5)
        if failures:
            try:
                print("---- daemon log ----")
                print(open(log_path).read()[-4000:])
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    return report()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
