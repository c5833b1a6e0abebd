#!/usr/bin/python3
"""The control path at scale, with the real processes: lb-dataplane on a
net_null port (no NIC, no namespace, no root), lb-controlplane and lbctl.

Checked:
- 4,096 VIPs x 10 backends (Maglev M=65537) applied with one
  `lbctl config apply`: answered "applied", in sync, the dataplane's
  configuration digest equals the control plane's, and the heartbeat never
  went stale meanwhile (the control plane never reported "not attached");
- one backend's state change at that scale is one small delta: the
  dataplane's generation steps by one and only that VIP is rebuilt (the
  transaction count and the digests say so);
- a configuration over the dataplane's table memory budget is refused up
  front (exit 3, a message naming the total and the budget), state,
  generation and digests unchanged, the dataplane still attached;
- an allocation failure injected in the dataplane's build
  (--test-alloc-fail-mb) is refused (exit 6, "out of memory"), counted,
  the dataplane keeps running with its tables and takes the next change;
- a deliberately slow build (--test-build-delay-ms) is reported as
  "building generation N: k of n VIPs" while the dataplane stays attached,
  and a build that keeps making progress outlives the ack timeout;
- kill -9 of the dataplane during a long build, then a new dataplane: the
  control plane converges it to the desired state; kill -9 of the control
  plane during a long build, then a new control plane: in sync again.

Every process is ended by PID (also on failure) and the segments removed.
Usage: control_path_scale_test.py LB_CONTROLPLANE LB_DATAPLANE LBCTL
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cp_client import check, failures, report, call, start_controlplane, stop, wait_for_socket, wait_until  # noqa: E402



def config(vips, backends=10, table_size=65537, first_octet=0):
    out = []
    for v in range(vips):
        a, b = divmod(v + first_octet, 256)
        out.append({
            "address": f"2001:db8:{a:x}::{b:x}" if v % 2 else f"192.0.2.{b}",
            "port": 1000 + a * 2 + (v % 2),
            "protocol": "tcp",
            "table_size": table_size,
            "backends": [{"name": f"be-{v}-{i}", "address": f"2001:db8:ffff::{v:x}:{i}"
                          if v % 2 else f"198.51.100.{i + 1}"}
                         for i in range(backends)],
        })
    # Odd VIPs are IPv6 with IPv6 backends (IPIP v6-in-v6); even VIPs IPv4.
    # Keys are unique: (address, port) differs for every VIP.
    return {"vips": out}


class Lab:
    def __init__(self, cp_bin, dp_bin, lbctl_bin):
        self.cp_bin, self.dp_bin, self.lbctl_bin = cp_bin, dp_bin, lbctl_bin
        self.tmp = tempfile.mkdtemp(prefix="sluice-scale-")
        self.instance = f"scale-{os.getpid()}"
        self.sock = os.path.join(self.tmp, "cp.sock")
        self.dp = None
        self.cp = None

    def start_dataplane(self, *extra):
        """Starts lb-dataplane and waits until its segment is up (so the
        control plane never meets the segment a killed one left)."""
        path = os.path.join(self.tmp, "dataplane.log")
        log = open(path, "ab")
        seen = log.tell()
        self.dp = subprocess.Popen(
            [self.dp_bin, "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "-l", "0,1",
             "--vdev", "net_null0,no-rx=1", "--",
             "--instance", self.instance, "--next-hop-mac", "02:00:00:00:00:fe",
             "--outer-src-v4", "192.0.2.1", "--outer-src-v6", "2001:db8::1",
             "--flows-per-lcore", "1024", "--idle-backoff-us", "100", *extra],
            stdout=log, stderr=subprocess.STDOUT)

        def up():
            if self.dp.poll() is not None:
                raise RuntimeError(f"lb-dataplane exited with {self.dp.returncode}")
            with open(path, "rb") as f:
                f.seek(seen)
                return b"control segment" in f.read()
        if not wait_until(up, 30):
            raise RuntimeError("lb-dataplane did not come up within 30 s")

    def start_controlplane(self):
        self.cp = start_controlplane(
            self.cp_bin,
            ["--instance", self.instance, "--socket", self.sock,
             "--state-file", os.path.join(self.tmp, "state.json"),
             "--audit-log", os.path.join(self.tmp, "audit.log"), "--ack-timeout-ms", "2000"],
            os.path.join(self.tmp, "controlplane.log"))
        wait_for_socket(self.sock, self.cp)

    def kill(self, which):
        proc = getattr(self, which)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        setattr(self, which, None)

    def status(self):
        return call(self.sock, {"op": "status"})["result"]

    def in_sync(self):
        s = self.status()
        return s["controlplane"]["in_sync"] and s["dataplane"].get("attached") is True

    def lbctl(self, *args, stdin=None, timeout=300):
        r = subprocess.run([self.lbctl_bin, "--socket", self.sock, *args], input=stdin,
                           capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def apply_file(self, cfg, *flags):
        path = os.path.join(self.tmp, "config.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return self.lbctl("config", "apply", "-f", path, *flags)

    def watch_while(self, proc, seen):
        """Polls status until `proc` ends; records what it saw."""
        while proc.poll() is None:
            s = self.status()
            dp = s["dataplane"]
            seen["polls"] += 1
            if dp.get("attached") is not True:
                seen["not_attached"] += 1
            else:
                seen["max_heartbeat_ms"] = max(seen["max_heartbeat_ms"], dp["heartbeat_age_ms"])
                if dp.get("building"):
                    seen["building"].append(dp["building"])
            time.sleep(0.1)

    def run(self, *phases):
        """Runs the phases; prints the processes' logs on failure; always
        ends the processes and removes what the lab made. The exit code."""
        try:
            for phase in phases:
                phase(self)
        except Exception as e:  # a crash of the test itself is a failure too
            check(False, f"unexpected error: {e!r}")
        finally:
            if failures:
                for name in ("dataplane.log", "controlplane.log"):
                    path = os.path.join(self.tmp, name)
                    if os.path.exists(path):
                        print(f"---- {name} (last lines) ----")
                        with open(path, errors="replace") as f:
                            print("".join(f.readlines()[-30:]))
            self.cleanup()
        print()
        return report()

    def cleanup(self):
        self.kill("cp")
        self.kill("dp")
        try:
            os.unlink(f"/dev/shm/sluice-{self.instance}")
        except FileNotFoundError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def background(lab, cfg, *flags):
    path = os.path.join(lab.tmp, f"bg-{time.monotonic_ns()}.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    return subprocess.Popen([lab.lbctl_bin, "--socket", lab.sock, "--timeout-ms", "300000",
                             "config", "apply", "-f", path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def scale(lab):
    print("--- 4,096 VIPs in one apply", flush=True)
    lab.start_dataplane("--table-memory-mb", "2048")
    lab.start_controlplane()
    check(wait_until(lambda: lab.status()["dataplane"].get("attached") is True, 10),
          "the control plane attaches to the dataplane")
    seen = {"polls": 0, "not_attached": 0, "max_heartbeat_ms": 0, "building": []}
    started = time.monotonic()
    proc = background(lab, config(4096))
    lab.watch_while(proc, seen)
    out, err = proc.communicate()
    took = time.monotonic() - started
    check(proc.returncode == 0, f"4,096 VIPs applied (exit {proc.returncode}): {out.strip()} {err.strip()}")
    print(f"info: the apply took {took:.1f} s end to end; {seen['polls']} status polls, "
          f"oldest heartbeat seen {seen['max_heartbeat_ms']} ms, "
          f"{len(seen['building'])} polls saw a build in progress", flush=True)
    check(seen["not_attached"] == 0, "the dataplane never looked dead during the build")
    check(seen["max_heartbeat_ms"] < 1000,
          f"the heartbeat kept beating (oldest seen {seen['max_heartbeat_ms']} ms)")
    check(wait_until(lab.in_sync, 30), "in sync after the apply")
    s = lab.status()
    check(s["controlplane"]["vips"] == 4096 and s["controlplane"]["backends"] == 40960,
          "the control plane holds 4,096 VIPs and 40,960 backends")
    check(s["dataplane"]["config_digest"] == s["controlplane"]["config_digest"],
          f"digests agree: {s['dataplane']['config_digest']}")
    check(s["dataplane"]["table_memory_used_bytes"] > 4096 * 65537 * 4,
          f"the dataplane accounts {s['dataplane']['table_memory_used_bytes']} bytes of tables")

    print("--- one backend's change at 4,096 VIPs", flush=True)
    gen = s["dataplane"]["generation"]
    txns = s["controlplane"]["transactions_pushed"]
    rc, out, err = lab.lbctl("backend", "drain", "192.0.2.76:1000/tcp", "be-76-3")
    check(rc == 0, f"drain applied: {out.strip()} {err.strip()}")
    s = lab.status()
    check(s["dataplane"]["generation"] == gen + 1, "one generation step for one change")
    check(s["controlplane"]["transactions_pushed"] == txns + 1, "one transaction")
    check(s["dataplane"]["config_digest"] == s["controlplane"]["config_digest"],
          "digests agree after the delta")

    print("--- over the budget", flush=True)
    before = lab.status()
    big = config(64, backends=2, table_size=16777213, first_octet=100)
    rc, out, err = lab.apply_file(big)
    check(rc == 3, f"over-budget configuration refused with exit 3 (got {rc})")
    check("budget" in err and "MiB" in err, f"the message names the total and the budget: {err.strip()}")
    after = lab.status()
    for side in ("dataplane", "controlplane"):
        check(after[side]["config_digest"] == before[side]["config_digest"],
              f"{side} digest unchanged")
    check(after["dataplane"]["generation"] == before["dataplane"]["generation"],
          "generation unchanged")
    check(after["dataplane"]["attached"] is True and lab.dp.poll() is None,
          "the dataplane is attached and running")
    lab.kill("cp")
    lab.kill("dp")


def faults(lab):
    print("--- an allocation failure in the build", flush=True)
    os.unlink(os.path.join(lab.tmp, "state.json"))  # start from an empty state
    lab.start_dataplane("--table-memory-mb", "1024", "--test-alloc-fail-mb", "4")
    lab.start_controlplane()
    small = config(4, table_size=251)
    rc, out, err = lab.apply_file(small)
    check(rc == 0 and wait_until(lab.in_sync, 10), f"a small configuration applies ({err.strip()})")
    before = lab.status()
    rc, out, err = lab.apply_file(config(40, table_size=65537))
    check(rc == 6, f"a build that runs out of memory is refused with exit 6 (got {rc})")
    check("out of memory" in err, f"the message says so: {err.strip()}")
    after = lab.status()
    check(lab.dp.poll() is None and after["dataplane"]["attached"] is True,
          "the dataplane survived and is attached")
    check(after["dataplane"]["refused_transactions"] == before["dataplane"]["refused_transactions"] + 1,
          "the refusal is counted")
    check(after["dataplane"]["config_digest"] == before["dataplane"]["config_digest"]
          and after["controlplane"]["config_digest"] == before["controlplane"]["config_digest"],
          "nothing changed on either side")
    check(after["dataplane"]["generation"] == before["dataplane"]["generation"],
          "a refused change does not advance the generation")
    rc, out, err = lab.lbctl("backend", "set-weight", "192.0.2.0:1000/tcp", "be-0-1", "5")
    check(rc == 0, f"the next change applies ({err.strip()})")
    check(lab.status()["dataplane"]["generation"] == before["dataplane"]["generation"] + 1,
          "an applied change advances it by one")
    lab.kill("cp")
    lab.kill("dp")

    print("--- a slow build is busy, not dead", flush=True)
    lab.start_dataplane("--table-memory-mb", "1024", "--test-build-delay-ms", "150")
    lab.start_controlplane()
    check(wait_until(lab.in_sync, 10), "the state (4 VIPs) is pushed to the new dataplane")
    seen = {"polls": 0, "not_attached": 0, "max_heartbeat_ms": 0, "building": []}
    # 30 VIPs whose Maglev tables change: 30 x 150 ms = 4.5 s, more than
    # the 2 s ack timeout, which progress keeps extending.
    proc = background(lab, config(30, table_size=1021))
    lab.watch_while(proc, seen)
    out, err = proc.communicate()
    check(proc.returncode == 0, f"the slow build is applied, not timed out ({err.strip()})")
    check(seen["not_attached"] == 0, "never reported as not attached")
    check(len(seen["building"]) >= 5, f"{len(seen['building'])} polls saw the build in progress")
    if seen["building"]:
        b = seen["building"][len(seen["building"]) // 2]
        check(b["total_vips"] == 30 and 0 <= b["done_vips"] <= 30,
              f"progress is reported: {b['done_vips']} of {b['total_vips']} VIPs")
    rc, out, err = lab.lbctl("status")
    check(rc == 0 and "building:" in out, "lbctl status shows the build line")

    print("--- kill -9 of the dataplane during a long build", flush=True)
    proc = background(lab, config(40, table_size=1031))
    check(wait_until(lambda: lab.status()["dataplane"].get("building") is not None, 10),
          "the build has started")
    lab.kill("dp")
    out, err = proc.communicate(timeout=60)
    check(proc.returncode == 7, f"the change is pending, not 'nothing changed' (exit {proc.returncode}: {err.strip()})")
    lab.start_dataplane("--table-memory-mb", "1024", "--test-build-delay-ms", "20")
    check(wait_until(lab.in_sync, 60), "the new dataplane is converged to the desired state")
    s = lab.status()
    check(s["controlplane"]["vips"] == 40 and s["dataplane"]["config_digest"] == s["controlplane"]["config_digest"],
          "it holds the 40 VIPs of the pending change")

    print("--- kill -9 of the control plane during a long build", flush=True)
    proc = background(lab, config(60, table_size=1033))
    check(wait_until(lambda: lab.status()["dataplane"].get("building") is not None, 10),
          "the build has started")
    lab.kill("cp")
    proc.communicate(timeout=60)
    lab.start_controlplane()
    check(wait_until(lab.in_sync, 60), "the restarted control plane is in sync with the dataplane")
    s = lab.status()
    check(s["dataplane"]["config_digest"] == s["controlplane"]["config_digest"],
          f"digests agree ({s['controlplane']['vips']} VIPs)")


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    return Lab(*sys.argv[1:]).run(scale, faults)


if __name__ == "__main__":
    sys.exit(main())
