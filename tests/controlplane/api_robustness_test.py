#!/usr/bin/python3
"""The control API's robustness against a real lb-controlplane with no
dataplane: garbage, a non-object, a 2 MiB line, a half line then a close,
invalid UTF-8, pipelined and concurrent clients; the daemon stays up and
answers the next valid request, and every refused change leaves
config.export and the state file byte for byte as they were. Also: options
from a --config file with the command line winning, the socket's mode, a
second daemon on the same socket refused, SIGTERM removing the socket and
keeping the state, and a corrupt state file refused and moved aside.

Usage: api_robustness_test.py PATH/TO/lb-controlplane
"""
import glob
import json
import os
import random
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cp_client import ApiClient, call, start_controlplane, stop, wait_for_socket  # noqa: E402

failures = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


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


def main(binary):
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

        # A request of exactly 1 MiB is fine; 2 MiB gets an error and a close.
        c = ApiClient(sock_path)
        body = b'{"op": "status"}'
        c.send_raw(body + b" " * ((1 << 20) - len(body)) + b"\n")
        check(c.read_line().get("ok") is True, "a request of exactly 1 MiB is answered")
        c.send_raw(b'{"op": "status", "pad": "' + b"x" * (2 << 20) + b'"}\n')
        ans = c.read_line()
        check(ans.get("ok") is False and "1 MiB" in ans["error"]["message"],
              f"a 2 MiB line gets an error answer: {str(ans)[:200]}")
        check(c.at_eof(), "the daemon closes the connection after a too-long line")
        c.close()

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

        for req, code in REFUSED_CHANGES:
            ans = call(sock_path, req)
            check(ans.get("ok") is False and ans["error"]["code"] == code and
                  ans["error"]["message"],
                  f"{req['op']} refused with {code}: {ans.get('error', ans)}")
        unchanged("refused changes")

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
        check(call(sock_path, {"op": "vip.list"}) == vips_before,
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
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
