#!/usr/bin/python3
"""Golden-output test of lbctl against the real lb-controlplane (and, for the
part that needs one, the real lb-dataplane on a net_null port).

One scripted session: every lbctl command in table and JSON form, then every
exit code (usage, invalid, not found, unreachable, dataplane). Each case's
command line, exit code, stdout and stderr are compared with
golden/<case>.txt; output that varies between runs (temporary paths, the
instance name, pids, boot ids, uptimes, heartbeat ages, the net_null port's
MAC) is normalised first.

Usage: golden_test.py LBCTL LB_CONTROLPLANE LB_DATAPLANE GOLDEN_DIR [--update]

--update rewrites the golden files from this run (and removes stale ones):
read every changed file before keeping it.
"""
import argparse
import difflib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

# --- Files the config cases read (written into the temporary directory) ---

NEW_CONFIG = {"vips": [
    # Kept: web-1's weight goes back to 1, web-2 is active again, web-3 leaves.
    {"address": "192.0.2.10", "port": 80, "protocol": "tcp", "encap": "ipip",
     "table_size": 65537,
     "backends": [
         {"name": "web-1", "address": "198.51.100.1", "weight": 1, "state": "active"},
         {"name": "web-2", "address": "198.51.100.2", "weight": 3, "state": "active"}]},
    # Unchanged.
    {"address": "2001:db8::10", "port": 53, "protocol": "udp", "encap": "gue",
     "table_size": 251,
     "backends": [
         {"name": "dns-1", "address": "2001:db8:2::1", "weight": 1, "state": "active"},
         {"name": "dns-2", "address": "198.51.100.53", "weight": 1, "state": "active"}]},
    # New (192.0.2.20:0/tcp is not listed, so it goes).
    {"address": "192.0.2.30", "port": 443, "protocol": "tcp",
     "backends": [{"name": "tls-1", "address": "198.51.100.31"},
                  {"name": "tls-2", "address": "198.51.100.32", "weight": 2}]},
    {"address": "2001:db8::20", "port": 80, "protocol": "tcp", "encap": "ipip",
     "table_size": 7},
]}

FILES = {
    "new.json": json.dumps(NEW_CONFIG, indent=2) + "\n",
    # A syntax error on line 3: lbctl must name the line and column.
    "bad-syntax.json": '{"vips": [\n  {"address": "192.0.2.10", "port": 80,\n'
                       '   "protocol": "tcp",, "encap": "ipip"}]}\n',
    "not-object.json": '[{"address": "192.0.2.10"}]\n',
    "bad-port.json": '{"vips": [{"address": "192.0.2.10", "port": 70000, '
                     '"protocol": "tcp"}]}\n',
    # A key twice in one object: refused by lbctl itself, naming its path
    # (the last "weight" would otherwise silently win).
    "duplicate-key.json": '{"vips": [{"address": "192.0.2.10", "port": 80, "protocol": "tcp",\n'
                          '  "backends": [{"name": "web-1", "address": "198.51.100.1",\n'
                          '                "weight": 1, "weight": 0}]}]}\n',
    # The one document with ids (as the state file holds it): accepted, the
    # ids ignored (they belong to the control plane).
    "with-ids.json": '{"vips": [{"id": 1, "address": "192.0.2.10", "port": 80, '
                     '"protocol": "tcp"}]}\n',
    "empty.json": '{"vips": []}\n',
}

VIP = "192.0.2.10:80/tcp"
VIP6 = "[2001:db8::10]:53/udp"


class Case:
    """One lbctl run. `args` may contain {tmp}; `stdin_file` is fed on stdin;
    `save` keeps stdout in that file (for later cases); `before`/`after` are
    session actions (stop/continue a process...); `counters` masks counter
    values, which a running dataplane keeps changing (net_null receives
    packets all the time)."""

    def __init__(self, name, args, stdin_file=None, save=None, before=None, after=None,
                 counters=False):
        self.name, self.args, self.stdin_file, self.save = name, args, stdin_file, save
        self.before, self.after, self.counters = before, after, counters


def C(name, line, **kw):
    return Case(name, shlex.split(line), **kw)


def session_without_dataplane(s):
    """Cases run while no dataplane is attached. `s` is the Session."""
    return [
        # Help, at every level.
        C("help-global", "--help"),
        C("help-noun", "backend --help"),
        C("help-command", "vip add --help"),
        C("help-word", "help config apply"),

        # A fresh daemon.
        C("status", "status"),
        C("status-json", "-o json status"),
        C("stats-no-dataplane", "stats"),
        C("stats-no-dataplane-json", "stats -o json"),
        C("vip-list-empty", "vip list"),
        C("vip-list-empty-json", "vip list -o json"),

        # Building the state with every mutation, in both formats.
        C("vip-add", f"vip add {VIP}"),
        C("vip-add-v6-json", f"-o json vip add '{VIP6}' --encap gue --table-size 251"),
        C("vip-add-all-ports", "vip add 192.0.2.20:0/tcp --table-size 7"),
        C("backend-add", f"backend add {VIP} web-1 198.51.100.1"),
        C("backend-add-weight", f"backend add {VIP} web-2 198.51.100.2 --weight 2"),
        C("backend-add-state-json",
          f"backend add {VIP} web-3 198.51.100.3 --state draining -o json"),
        C("backend-add-v6", f"backend add '{VIP6}' dns-1 2001:db8:2::1"),
        C("backend-add-v4-to-v6-vip", f"backend add '{VIP6}' dns-2 198.51.100.53"),
        C("vip-list", "vip list"),
        C("vip-list-json", "vip list -o json"),
        C("vip-show", f"vip show {VIP}"),
        C("vip-show-v6-json", f"vip show '{VIP6}' -o json"),
        C("vip-show-no-backends", "vip show 192.0.2.20:0/tcp"),
        C("backend-list", f"backend list {VIP}"),
        C("backend-list-json", f"backend list '{VIP6}' -o json"),
        C("backend-set-weight", f"backend set-weight {VIP} web-1 5"),
        C("backend-set-weight-json", f"-o json backend set-weight {VIP} web-2 3"),
        C("backend-drain", f"backend drain {VIP} web-2"),
        C("backend-disable", f"backend disable {VIP} web-3"),
        C("backend-enable-json", f"backend enable {VIP} web-3 -o json"),
        C("backend-list-after-state-changes", f"backend list {VIP}"),
        C("status-with-state", "status"),

        # Where new flows go (seed 0 without a dataplane).
        C("flow-explain", "flow explain 203.0.113.7 40000 192.0.2.10 80 tcp"),
        C("flow-explain-json", "-o json flow explain 203.0.113.7 40000 192.0.2.10 80 tcp"),
        C("flow-explain-v6", "flow explain 2001:db8:ffff::7 5353 2001:db8::10 53 udp"),
        C("flow-explain-no-backend", "flow explain 203.0.113.7 40000 192.0.2.20 443 tcp"),

        # The declarative configuration.
        C("config-export", "config export", save="exported.json"),
        C("config-export-json", "config export -o json"),
        C("config-check", "config check -f exported.json"),
        C("config-check-json", "config check -f exported.json -o json"),
        C("config-apply-unchanged", "config apply -f exported.json"),
        C("config-apply", "config apply -f new.json"),
        C("config-apply-stdin-json", "-o json config apply -f -", stdin_file="new.json"),
        C("vip-list-after-apply", "vip list"),
        C("backend-del", "backend del 192.0.2.30:443/tcp tls-2"),
        C("backend-del-json", "-o json backend del 192.0.2.30:443/tcp tls-1"),
        C("vip-del", "vip del 192.0.2.30:443/tcp"),
        C("vip-del-json", "vip del '[2001:db8::20]:80/tcp' -o json"),
        C("vip-list-final", "vip list"),

        # Schedulers, backups, slow start and the no-backend answer (issue 16).
        C("vip-add-scheduler", "vip add 192.0.2.40:80/tcp --scheduler least-connections "
          "--no-backend reset --slow-start 300"),
        C("backend-add-backup", "backend add 192.0.2.40:80/tcp spare-1 198.51.100.40 --backup"),
        C("backend-add-primary", "backend add 192.0.2.40:80/tcp web-40 198.51.100.41 --weight 2"),
        C("backend-list-backup", "backend list 192.0.2.40:80/tcp"),
        C("vip-set", "vip set 192.0.2.40:80/tcp --scheduler power-of-two --slow-start 0"),
        C("vip-set-json", "-o json vip set 192.0.2.40:80/tcp --no-backend unreachable"),
        C("vip-show-scheduler", "vip show 192.0.2.40:80/tcp"),
        C("flow-explain-host-local", "flow explain 203.0.113.7 40000 192.0.2.40 80 tcp"),
        C("help-vip-set", "vip set --help"),
        C("invalid-scheduler", "vip set 192.0.2.40:80/tcp --scheduler round-robin"),
        C("invalid-vip-set-nothing", "vip set 192.0.2.40:80/tcp"),
        C("invalid-reset-on-udp", "vip add 192.0.2.41:53/udp --no-backend reset"),
        C("invalid-slow-start", "vip set 192.0.2.40:80/tcp --slow-start 90000"),

        # Exit code 2: the command line is wrong (found by lbctl).
        C("usage-no-command", ""),
        C("usage-unknown-noun", "frob list"),
        C("usage-unknown-verb", "vip frob"),
        C("usage-missing-verb", "backend"),
        C("usage-missing-argument", f"backend add {VIP} web-9"),
        C("usage-extra-argument", "vip list extra"),
        C("usage-unknown-option", "vip add 192.0.2.11:80/tcp --weight 3"),
        C("usage-missing-file-option", "config apply"),
        C("usage-bad-output-format", "-o yaml vip list"),

        # Exit code 3, found by lbctl: values and files that do not parse.
        # The nobody.sock cases show that the daemon is not contacted.
        C("invalid-vip-address", "vip add 192.0.2.300:80/tcp --socket {tmp}/nobody.sock"),
        C("invalid-v6-key-without-brackets", "vip show 2001:db8::10:53/udp"),
        C("invalid-protocol", "vip add 192.0.2.11:80/sctp"),
        C("invalid-port", "vip add 192.0.2.11:65536/tcp"),
        C("invalid-encap", "vip add 192.0.2.11:80/tcp --encap gre"),
        C("invalid-backend-address", f"backend add {VIP} web-9 web-9.example"),
        C("invalid-state", f"backend add {VIP} web-9 198.51.100.9 --state up"),
        C("invalid-weight-not-a-number", f"backend set-weight {VIP} web-1 heavy"),
        C("invalid-weight-negative", f"backend set-weight {VIP} web-1 -1"),
        C("invalid-flow-port", "flow explain 203.0.113.7 70000 192.0.2.10 80 tcp"),
        C("invalid-config-not-json",
          "config check -f bad-syntax.json --socket {tmp}/nobody.sock"),
        C("invalid-config-apply-not-json", "config apply -f bad-syntax.json"),
        C("invalid-config-not-object", "config check -f not-object.json"),
        C("invalid-config-duplicate-key",
          "config apply -f duplicate-key.json --socket {tmp}/nobody.sock"),
        C("invalid-config-missing-file", "config apply -f missing.json"),

        # Exit code 3, from lb-controlplane: well formed, not acceptable.
        C("invalid-table-size-not-prime", "vip add 192.0.2.11:80/tcp --table-size 100"),
        C("invalid-table-size-too-small", "vip add 192.0.2.11:80/tcp --table-size 5"),
        C("invalid-weight-out-of-range", f"backend set-weight {VIP} web-1 1000001"),
        C("invalid-weight-out-of-range-add",
          f"backend add {VIP} web-9 198.51.100.9 --weight 2000000"),
        C("invalid-duplicate-vip", f"vip add {VIP} --encap gue"),
        C("invalid-duplicate-backend-name", f"backend add {VIP} web-1 198.51.100.9"),
        C("invalid-duplicate-backend-address", f"backend add {VIP} web-9 198.51.100.1"),
        C("invalid-backend-name", f"backend add {VIP} web/9 198.51.100.9"),
        C("invalid-config-check", "config check -f bad-port.json"),
        C("invalid-config-apply", "config apply -f bad-port.json"),
        # One document: a file with ids (an exported state file) is a
        # configuration too; the ids are the control plane's and ignored.
        C("config-check-with-ids", "config check -f with-ids.json"),
        C("invalid-config-empty", "config check -f empty.json"),
        C("config-check-empty-allowed", "config check -f empty.json --allow-empty"),
        C("invalid-flow-families", "flow explain 203.0.113.7 40000 2001:db8::10 53 udp"),

        # Exit code 4: no such VIP or backend.
        C("not-found-vip-show", "vip show 192.0.2.99:80/tcp"),
        C("not-found-vip-del", "vip del 192.0.2.99:80/tcp"),
        C("not-found-backend-list", "backend list 192.0.2.99:80/tcp"),
        C("not-found-backend-add-vip", "backend add 192.0.2.99:80/tcp web-1 198.51.100.1"),
        C("not-found-backend-del", f"backend del {VIP} web-9"),
        C("not-found-backend-set-weight", f"backend set-weight {VIP} web-9 2"),
        C("not-found-backend-drain-vip", "backend drain 192.0.2.99:80/tcp web-1"),
        C("not-found-flow-explain", "flow explain 203.0.113.7 40000 192.0.2.99 80 tcp"),

        # Exit code 5: nobody listens, or nobody answers in time.
        C("unreachable-no-daemon", "--socket {tmp}/nobody.sock vip list"),
        C("unreachable-timeout", "--timeout-ms 300 vip list",
          before=s.stop_controlplane, after=s.continue_controlplane),
    ]


def session_with_dataplane(s):
    """Cases run with lb-dataplane attached (started before the first)."""
    return [
        C("dp-status", "status"),
        C("dp-status-json", "status -o json"),
        # Every counter of the list, in its order; the values are masked
        # (they must be integers to match).
        C("dp-stats", "stats", counters=True),
        C("dp-stats-json", "-o json stats", counters=True),
        C("dp-vip-show", f"vip show {VIP}"),
        C("dp-vip-show-json", f"vip show {VIP} -o json"),
        C("dp-backend-add", f"backend add {VIP} web-4 198.51.100.4"),
        C("dp-backend-set-weight-json", f"backend set-weight {VIP} web-4 2 -o json"),
        C("dp-flow-explain", "flow explain 203.0.113.7 40000 192.0.2.10 80 tcp"),
        # Exit code 7: the dataplane is stopped (SIGSTOP), so it cannot
        # acknowledge within the control plane's --ack-timeout-ms; the
        # outcome is not known, so the answer is "pending", never "nothing
        # changed".
        C("dataplane-pending", f"backend drain {VIP} web-1",
          before=s.stop_dataplane, after=s.continue_dataplane),
        # ... and the change is the desired state: web-1 is draining.
        C("dp-after-pending", f"backend list {VIP}"),
    ]


# --- Normalisation --------------------------------------------------------

def normalise(text, tmp, instance):
    text = text.replace(tmp, "$TMP").replace(instance, "$INSTANCE")
    rules = [
        (r'("pid": )\d+', r"\1<pid>"),
        (r'("boot_id": )"[0-9a-f]+"', r"\1<boot-id>"),
        (r'("uptime_s": )[0-9.e+-]+', r"\1<uptime>"),
        (r'("heartbeat_age_ms": )\d+', r"\1<age>"),
        # How many connections the harness made while waiting for the
        # processes depends on timing.
        (r'("accepted": )\d+', r"\1<n>"),
        (r"(?m)^(  pid: +)\d+$", r"\1<pid>"),
        (r"(?m)^(  boot id: +)[0-9a-f]+$", r"\1<boot-id>"),
        (r"(?m)^(  uptime: +)\S.*$", r"\1<uptime>"),
        (r"(?m)^(  heartbeat age: +)\d+ ms$", r"\1<age> ms"),
        # When health verdicts began (health_since): the time of the run.
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>"),
        # net_null makes up a random MAC for its port at every start.
        (r'("mac": )"[0-9a-f]{2}(:[0-9a-f]{2}){5}"', r"\1<mac>"),
        (r"(?m)^(  port \d+: +\S+ \(\S+\) )[0-9a-f]{2}(:[0-9a-f]{2}){5} ", r"\1<mac> "),
    ]
    for pattern, repl in rules:
        text = re.sub(pattern, repl, text)
    return text


def mask_counters(text):
    """Counter values as <n>: the JSON "counters" members, and the table's
    VALUE column laid out as if every value were at most 5 digits wide (the
    header's width)."""
    text = re.sub(r'(?m)^( {4,}"[a-z][a-z0-9_]*": )\d+(,?)$', r"\1<n>\2", text)
    # The daemon's clock at the read and the machine's TSC rate.
    text = re.sub(r'(?m)^(  "(?:at_ns|tsc_hz)": )\d+(,?)$', r"\1<n>\2", text)
    row = re.compile(r"^[a-z][a-z0-9_]* +(\d+)$")
    lines = text.split("\n")
    digits = [len(m.group(1)) for m in map(row.match, lines) if m]
    if not digits:
        return text
    width = max(digits + [len("VALUE")])  # the VALUE column, right-aligned
    for i, line in enumerate(lines):
        if row.match(line) or re.match(r"^COUNTER +VALUE$", line):
            value = "VALUE" if line.startswith("COUNTER ") else "<n>"
            lines[i] = line[:len(line) - width] + value.rjust(len("VALUE"))
    return "\n".join(lines)


def render(case, rc, out, err):
    shown = " ".join(a.replace("{tmp}", "$TMP") if "{tmp}" in a else shlex.quote(a)
                     for a in case.args)
    if case.stdin_file:
        shown += f" < {case.stdin_file}"
    return f"$ lbctl {shown}".rstrip() + f"\nexit: {rc}\n--- stdout\n{out}--- stderr\n{err}"


# --- The processes --------------------------------------------------------

class Session:
    def __init__(self, lbctl, controlplane, dataplane, tmp):
        self.lbctl, self.controlplane_bin, self.dataplane_bin = lbctl, controlplane, dataplane
        self.tmp = tmp
        self.instance = f"lbctl-golden-{os.getpid()}"
        self.socket = os.path.join(tmp, "sluice.sock")
        self.cp = self.dp = None
        self.stopped = set()

    def start_controlplane(self):
        self.cp_log = open(os.path.join(self.tmp, "controlplane.log"), "w")
        self.cp = subprocess.Popen(
            [self.controlplane_bin, "--socket", self.socket,
             "--state-file", os.path.join(self.tmp, "state.json"),
             "--instance", self.instance, "--ack-timeout-ms", "500"],
            stdout=self.cp_log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.socket):
            if self.cp.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("lb-controlplane did not start:\n" + self.log("controlplane"))
            time.sleep(0.05)

    def start_dataplane(self):
        self.dp_log = open(os.path.join(self.tmp, "dataplane.log"), "w")
        self.dp = subprocess.Popen(
            [self.dataplane_bin, "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
             "-l", "0,1", "--vdev", "net_null0,no-rx=1", "--",
             "--instance", self.instance, "--next-hop-mac", "02:00:00:00:00:fe",
             "--outer-src-v4", "192.0.2.1", "--outer-src-v6", "2001:db8::1",
             "--flows-per-lcore", "1024", "--idle-backoff-us", "100",
             "--table-memory-mb", "256"],
            stdout=self.dp_log, stderr=subprocess.STDOUT)
        # Attached and acknowledged the state: the dataplane cases start from
        # a dataplane that forwards with the control plane's tables.
        deadline = time.monotonic() + 30
        while True:
            status = self.status()
            if status and status["dataplane"].get("attached") and \
                    status["controlplane"].get("in_sync"):
                return
            if self.dp.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("lb-dataplane did not attach and sync:\n" +
                                   self.log("dataplane") + self.log("controlplane"))
            time.sleep(0.1)

    def status(self):
        r = subprocess.run([self.lbctl, "--socket", self.socket, "-o", "json", "status"],
                           capture_output=True, text=True)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def wait_in_sync(self):
        deadline = time.monotonic() + 20
        while not (self.status() or {}).get("controlplane", {}).get("in_sync"):
            if time.monotonic() > deadline:
                raise RuntimeError("the dataplane did not get back in sync:\n" +
                                   self.log("controlplane"))
            time.sleep(0.1)

    def stop_controlplane(self):
        self._signal(self.cp, signal.SIGSTOP)

    def continue_controlplane(self):
        self._signal(self.cp, signal.SIGCONT)

    def stop_dataplane(self):
        self._signal(self.dp, signal.SIGSTOP)

    def continue_dataplane(self):
        self._signal(self.dp, signal.SIGCONT)
        self.wait_in_sync()

    def _signal(self, proc, sig):
        os.kill(proc.pid, sig)
        if sig == signal.SIGSTOP:
            self.stopped.add(proc.pid)
        elif sig == signal.SIGCONT:
            self.stopped.discard(proc.pid)

    def log(self, which):
        path = os.path.join(self.tmp, f"{which}.log")
        if not os.path.exists(path):
            return ""
        with open(path) as f:
            return f"--- {which} log\n{f.read()}"

    def close(self):
        # By pid only, and continued first so that SIGTERM is handled.
        for proc in (self.dp, self.cp):
            if proc is None or proc.poll() is not None:
                continue
            if proc.pid in self.stopped:
                os.kill(proc.pid, signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def run(self, case):
        if case.before:
            case.before()
        try:
            env = dict(os.environ, SLUICE_SOCKET=self.socket)
            args = [a.replace("{tmp}", self.tmp) for a in case.args]
            stdin = open(os.path.join(self.tmp, case.stdin_file)) if case.stdin_file else None
            r = subprocess.run([self.lbctl] + args, cwd=self.tmp, env=env, stdin=stdin,
                               capture_output=True, text=True, timeout=30)
            if stdin:
                stdin.close()
        finally:
            if case.after:
                case.after()
        if case.save:
            with open(os.path.join(self.tmp, case.save), "w") as f:
                f.write(r.stdout)
        return r.returncode, r.stdout, r.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lbctl")
    ap.add_argument("controlplane")
    ap.add_argument("dataplane")
    ap.add_argument("golden_dir")
    ap.add_argument("--update", action="store_true")
    opts = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="lbctl-golden-")
    for name, content in FILES.items():
        with open(os.path.join(tmp, name), "w") as f:
            f.write(content)
    session = Session(os.path.abspath(opts.lbctl), os.path.abspath(opts.controlplane),
                      os.path.abspath(opts.dataplane), tmp)
    failures, seen, ran, updated = [], set(), 0, 0
    try:
        session.start_controlplane()
        parts = [(None, session_without_dataplane(session)),
                 (session.start_dataplane, session_with_dataplane(session))]
        for start, cases in parts:
            if start:
                start()
            for case in cases:
                assert case.name not in seen, f"duplicate case name {case.name}"
                seen.add(case.name)
                rc, out, err = session.run(case)
                ran += 1
                if case.counters:
                    out = mask_counters(out)
                actual = render(case, rc,
                                normalise(out, tmp, session.instance),
                                normalise(err, tmp, session.instance))
                path = os.path.join(opts.golden_dir, case.name + ".txt")
                expected = open(path).read() if os.path.exists(path) else None
                if actual == expected:
                    continue
                if opts.update:
                    with open(path, "w") as f:
                        f.write(actual)
                    updated += 1
                    print(f"updated {path}")
                    continue
                failures.append(case.name)
                print(f"FAIL {case.name}: output differs from {path}")
                sys.stdout.writelines(difflib.unified_diff(
                    (expected or "").splitlines(True), actual.splitlines(True),
                    f"golden/{case.name}.txt", "actual"))
                print()
        for stale in sorted(set(os.listdir(opts.golden_dir)) - {n + ".txt" for n in seen}):
            if opts.update:
                os.remove(os.path.join(opts.golden_dir, stale))
                print(f"removed stale {stale}")
            else:
                failures.append(stale)
                print(f"FAIL golden/{stale} belongs to no case (run with --update to remove)")
    except Exception:
        print(session.log("controlplane") + session.log("dataplane"))
        raise
    finally:
        session.close()
        if failures:
            print(session.log("controlplane") + session.log("dataplane"))
        shutil.rmtree(tmp, ignore_errors=True)

    if failures:
        print(f"{len(failures)} of {ran} cases differ from their golden files; after checking "
              f"that the new output is right, regenerate with: {sys.argv[0]} LBCTL "
              f"LB_CONTROLPLANE LB_DATAPLANE GOLDEN_DIR --update")
        return 1
    if opts.update:
        print(f"{updated} of {ran} golden files updated: read each one before keeping it")
    else:
        print(f"{ran} cases match their golden files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
