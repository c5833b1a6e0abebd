#!/usr/bin/python3
"""Stop, restart and what `lbctl status` shows, with the real processes:
lb-dataplane on net_null ports (no NIC, no namespace, no root needed),
lb-controlplane and lbctl.

Checked:
- SIGTERM (and SIGINT) stop lb-dataplane within 1 s, exit code 0, the
  segment removed from /dev/shm: while idle (with the longest idle back-off
  allowed), while its worker is busy receiving (net_null without no-rx: the
  counters it prints show the packets), and while a deliberately slow build
  runs (--test-build-delay-ms 200, 30 VIPs pushed with lbctl through a real
  lb-controlplane, the signal sent while status shows `building`), and
  while one VIP's table of the largest size (about a second to build) is
  half done;
- kill -9 leaves the segment; the next lb-dataplane of the instance
  reclaims it (and says so), the control plane re-attaches to it and it
  takes changes; a second lb-dataplane with the same --instance is refused
  (non-zero exit, a message naming the first one's pid) while the first
  lives, and the first is untouched;
- lb-controlplane: SIGTERM removes its socket and lock file; after kill -9
  a new one reclaims the stale socket; a second one on the same socket is
  refused while the first lives;
- an exception injected into the control channel's poll
  (--test-channel-exception): that transaction is refused (lbctl exit 6
  with the message), refused_transactions counts it, the worker keeps
  receiving, the next change applies;
- `lbctl status` shows the port (name, driver, MAC, link, MTU) and the
  audit log's write errors: with --audit-log /dev/full every change still
  applies, and the errors are counted.

Every process is ended by PID in a finally block (also on failure); the
segments, sockets and temporary files are removed.
Usage: dataplane_lifecycle_test.py LB_CONTROLPLANE LB_DATAPLANE LBCTL
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cp_client import check, failures, call, wait_for_socket, wait_until  # noqa: E402

STOP_BOUND_S = 1.0  # the bound for SIGTERM/SIGINT, whatever the dataplane does


def config(vips):
    """`vips` small VIPs with two backends each (documentation addresses)."""
    return {"vips": [{"address": f"192.0.2.{v + 1}", "port": 80, "protocol": "tcp",
                      "table_size": 65537,
                      "backends": [{"name": f"be-{v}-{i}", "address": f"198.51.100.{i + 1}"}
                                   for i in range(2)]}
                     for v in range(vips)]}


class Lab:
    def __init__(self, cp_bin, dp_bin, lbctl_bin):
        self.cp_bin, self.dp_bin, self.lbctl_bin = cp_bin, dp_bin, lbctl_bin
        self.tmp = tempfile.mkdtemp(prefix="sluice-lifecycle-")
        self.instance = f"lifecycle-{os.getpid()}"
        self.segment = f"/dev/shm/sluice-{self.instance}"
        self.sock = os.path.join(self.tmp, "cp.sock")
        self.procs = []  # everything started, ended by PID in cleanup()
        self.n = 0

    # --- processes --------------------------------------------------------

    def dataplane(self, *extra, vdev="net_null0,no-rx=1", wait=True, instance=None,
                  backoff_us=100):
        """Starts lb-dataplane; with `wait`, returns once it forwards."""
        self.n += 1
        log = os.path.join(self.tmp, f"dataplane-{self.n}.log")
        out = os.path.join(self.tmp, f"dataplane-{self.n}.out")
        proc = subprocess.Popen(
            [self.dp_bin, "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "-l", "0,1",
             "--vdev", vdev, "--",
             "--instance", instance or self.instance, "--next-hop-mac", "02:00:00:00:00:fe",
             "--outer-src-v4", "192.0.2.254", "--flows-per-lcore", "1024",
             "--idle-backoff-us", str(backoff_us), *extra],
            stdout=open(out, "wb"), stderr=open(log, "wb"))
        proc.log, proc.out = log, out
        self.procs.append(proc)
        if wait and not wait_until(lambda: proc.poll() is not None or
                                   "control segment" in self.text(log), 30):
            raise RuntimeError("lb-dataplane did not come up within 30 s:\n" + self.text(log))
        if wait and proc.poll() is not None:
            raise RuntimeError(f"lb-dataplane exited with {proc.returncode}:\n" + self.text(log))
        return proc

    def controlplane(self, *extra, wait=True, state="state.json"):
        self.n += 1
        log = os.path.join(self.tmp, f"controlplane-{self.n}.log")
        proc = subprocess.Popen(
            [self.cp_bin, "--instance", self.instance, "--socket", self.sock,
             "--state-file", os.path.join(self.tmp, state),
             "--ack-timeout-ms", "2000", *extra],
            stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
        proc.log = log
        self.procs.append(proc)
        if wait:
            wait_for_socket(self.sock, proc)
        return proc

    @staticmethod
    def text(path):
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop_timed(self, proc, sig=signal.SIGTERM):
        """Sends `sig`; returns (seconds until the process was gone, exit code)."""
        started = time.monotonic()
        os.kill(proc.pid, sig)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        return time.monotonic() - started, rc

    def kill9(self, proc):
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def cleanup(self):
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(10)
        for path in (self.segment,):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)

    # --- clients ----------------------------------------------------------

    def status(self):
        return call(self.sock, {"op": "status"})["result"]

    def attached_to(self, proc):
        s = self.status()
        return s["dataplane"].get("attached") is True and s["dataplane"]["pid"] == proc.pid

    def in_sync_with(self, proc):
        s = self.status()
        return self.attached_to(proc) and s["controlplane"]["in_sync"]

    def lbctl(self, *args, timeout=60):
        r = subprocess.run([self.lbctl_bin, "--socket", self.sock, *args],
                           capture_output=True, text=True, timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def write_config(self, cfg):
        path = os.path.join(self.tmp, f"config-{time.monotonic_ns()}.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path


def counters_of(proc):
    """The counters lb-dataplane printed on stdout when it stopped."""
    for line in reversed(Lab.text(proc.out).splitlines()):
        if line.startswith("{"):
            return json.loads(line).get("counters", {})
    return {}


# --- the cases ----------------------------------------------------------------

def stop_while_idle(lab):
    print("--- SIGTERM / SIGINT while idle", flush=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        # The longest back-off a worker may sleep: the stop still waits for it.
        dp = lab.dataplane(backoff_us=100000)
        check(os.path.exists(lab.segment), f"the segment {lab.segment} exists while it runs")
        time.sleep(0.5)
        took, rc = lab.stop_timed(dp, sig)
        name = signal.Signals(sig).name
        check(took < STOP_BOUND_S, f"{name} while idle: gone in {took:.3f} s (< {STOP_BOUND_S} s)")
        check(rc == 0, f"{name} while idle: exit code {rc}")
        check(not os.path.exists(lab.segment), f"{name} while idle: no segment left in /dev/shm")
        check("control segment" in lab.text(dp.log) and "stopped" in lab.text(dp.log),
              f"{name} while idle: it said it stopped")
    # The back-off is bounded, so nothing can make a stop wait longer.
    dp = lab.dataplane(backoff_us=100001, wait=False)
    rc = dp.wait(30)
    check(rc == 2 and "out of range [0, 100000]" in lab.text(dp.log),
          f"--idle-backoff-us above 100000 is refused (exit {rc})")


def stop_while_forwarding(lab):
    print("--- SIGTERM while the worker is busy receiving", flush=True)
    dp = lab.dataplane(vdev="net_null0")  # net_null hands the worker a burst on every poll
    time.sleep(1.0)
    took, rc = lab.stop_timed(dp)
    rx = counters_of(dp).get("rx_packets", 0)
    check(rx > 10000, f"the worker was busy: {rx} packets received before the stop")
    check(took < STOP_BOUND_S, f"SIGTERM while forwarding: gone in {took:.3f} s")
    check(rc == 0, f"SIGTERM while forwarding: exit code {rc}")
    check(not os.path.exists(lab.segment), "SIGTERM while forwarding: no segment left")


def stop_while_building(lab):
    print("--- SIGTERM while a build runs", flush=True)
    dp = lab.dataplane("--test-build-delay-ms", "200")  # 30 VIPs: a 6 s build
    cp = lab.controlplane()
    check(wait_until(lambda: lab.attached_to(dp), 10), "the control plane attaches")
    path = lab.write_config(config(30))
    apply = subprocess.Popen([lab.lbctl_bin, "--socket", lab.sock, "--timeout-ms", "60000",
                              "config", "apply", "-f", path],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    building = []

    def seen_building():
        b = lab.status()["dataplane"].get("building")
        if b:
            building.append(b)
        return bool(b) and b["done_vips"] >= 2
    check(wait_until(seen_building, 20, step=0.02),
          f"status shows the build in progress: {building[-1] if building else None}")
    took, rc = lab.stop_timed(dp)
    check(took < STOP_BOUND_S, f"SIGTERM during the build: gone in {took:.3f} s")
    check(rc == 0, f"SIGTERM during the build: exit code {rc}")
    check(not os.path.exists(lab.segment), "SIGTERM during the build: no segment left")
    out, err = apply.communicate(timeout=90)
    # The build was cancelled: the operator must never read "applied".
    check(apply.returncode != 0, f"the interrupted apply is not reported applied (exit "
          f"{apply.returncode}): {out.strip()} {err.strip()}")
    lab.stop_timed(cp)


def stop_inside_a_large_table(lab):
    print("--- SIGTERM while one VIP's largest table is being built", flush=True)
    # A Maglev table of the largest size (16777213 slots) takes about a
    # second to build here: cancellation between VIPs alone would miss the
    # bound, so the stop does not wait for the builder past a moment.
    dp = lab.dataplane()
    cp = lab.controlplane(state="large-state.json")
    check(wait_until(lambda: lab.attached_to(dp), 10), "the control plane attaches")
    cfg = config(2)
    for vip in cfg["vips"]:
        vip["table_size"] = 16777213
    apply = subprocess.Popen([lab.lbctl_bin, "--socket", lab.sock, "--timeout-ms", "60000",
                              "config", "apply", "-f", lab.write_config(cfg)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = []

    def inside_first_table():
        b = lab.status()["dataplane"].get("building")
        if b:
            seen.append(b)
        return bool(b) and b["done_vips"] == 0 and b["elapsed_s"] >= 0.1
    check(wait_until(inside_first_table, 20, step=0.01),
          f"status shows the first table being built: {seen[-1] if seen else None}")
    took, rc = lab.stop_timed(dp)
    check(took < STOP_BOUND_S, f"SIGTERM inside a large table: gone in {took:.3f} s")
    check(rc == 0, f"SIGTERM inside a large table: exit code {rc}")
    check(not os.path.exists(lab.segment), "SIGTERM inside a large table: no segment left")
    out, err = apply.communicate(timeout=90)
    check(apply.returncode != 0, f"the interrupted apply is not reported applied (exit "
          f"{apply.returncode})")
    lab.stop_timed(cp)


def restart_and_second_instance(lab):
    print("--- kill -9, restart, a second instance", flush=True)
    cp = lab.controlplane()
    first = lab.dataplane()
    check(wait_until(lambda: lab.attached_to(first), 10), "the control plane attaches")
    rc, out, err = lab.lbctl("config", "apply", "-f", lab.write_config(config(3)))
    check(rc == 0, f"3 VIPs applied: {out.strip()} {err.strip()}")
    lab.kill9(first)
    check(os.path.exists(lab.segment), "kill -9 leaves the segment behind")
    stale_inode = os.stat(lab.segment).st_ino

    second = lab.dataplane()
    log = lab.text(second.log)
    check(f"reclaimed {lab.segment} from a dataplane that is gone (pid {first.pid})" in log,
          "the new dataplane reclaims the stale segment and says whose it was")
    check(os.stat(lab.segment).st_ino != stale_inode, "the segment is a new one")
    check(wait_until(lambda: lab.in_sync_with(second), 15),
          "the control plane re-attaches to the new dataplane and pushes the state")
    rc, out, err = lab.lbctl("backend", "add", "192.0.2.1:80/tcp", "be-new", "198.51.100.9")
    check(rc == 0, f"the new dataplane takes a change: {out.strip()} {err.strip()}")
    s = lab.status()["dataplane"]
    check(s["pid"] == second.pid and s["refused_transactions"] == 0,
          f"status: pid {s['pid']}, generation {s['generation']}")

    inode = os.stat(lab.segment).st_ino
    third = lab.dataplane(wait=False)
    try:
        rc = third.wait(30)
    except subprocess.TimeoutExpired:
        rc = None
    msg = lab.text(third.log)
    check(rc not in (0, None), f"a second lb-dataplane of the instance is refused (exit {rc})")
    check(f"instance '{lab.instance}' is in use: lb-dataplane pid {second.pid} owns its segment "
          f"{lab.segment}" in msg, "its message names the instance, the owner's pid and the "
          "segment: " + (msg.strip().splitlines() or ["(nothing)"])[-1])
    check(second.poll() is None and os.stat(lab.segment).st_ino == inode,
          "the first one still runs, its segment untouched")
    check(wait_until(lambda: lab.in_sync_with(second), 5),
          "the control plane still drives the first one")
    took, rc = lab.stop_timed(second)
    check(rc == 0 and not os.path.exists(lab.segment),
          f"the first one stops cleanly (exit {rc}, {took:.3f} s)")
    lab.stop_timed(cp)


def controlplane_socket(lab):
    print("--- lb-controlplane's socket", flush=True)
    lock = lab.sock + ".lock"
    cp = lab.controlplane()
    check(os.path.exists(lab.sock) and os.path.exists(lock), "socket and lock file exist")
    # Its own state file, so that the socket is the only thing they share.
    other = lab.controlplane(state="other-state.json", wait=False)
    rc = other.wait(30)
    msg = lab.text(other.log)
    check(rc != 0 and f"another lb-controlplane (pid {cp.pid}) serves {lab.sock}" in msg,
          f"a second control plane on the socket is refused (exit {rc}): "
          + (msg.strip().splitlines() or ["(nothing)"])[-1])
    check(lab.status()["controlplane"]["vips"] >= 0, "the first one still answers")
    took, rc = lab.stop_timed(cp)
    check(rc == 0, f"SIGTERM: lb-controlplane exits 0 ({took:.3f} s)")
    check(not os.path.exists(lab.sock) and not os.path.exists(lock),
          "SIGTERM removes the socket and its lock file")

    cp = lab.controlplane()
    lab.kill9(cp)
    check(os.path.exists(lab.sock), "kill -9 leaves the socket behind")
    cp = lab.controlplane()
    check("removed the stale socket" in lab.text(cp.log),
          "a new lb-controlplane reclaims the stale socket and says so")
    rc, out, err = lab.lbctl("status")
    check(rc == 0 and "control plane:" in out, "lbctl talks to the new one")
    lab.stop_timed(cp)


def channel_exception(lab):
    print("--- an exception in the control channel's poll", flush=True)
    cp = lab.controlplane()
    dp = lab.dataplane()
    check(wait_until(lambda: lab.attached_to(dp), 10), "the control plane attaches")
    rc, out, err = lab.lbctl("config", "apply", "-f", lab.write_config(config(2)))
    check(rc == 0, f"2 VIPs applied: {out.strip()} {err.strip()}")
    lab.stop_timed(dp)
    # The restarted dataplane's first transaction is the whole state; the
    # second one throws inside poll(). net_null with RX: the worker is busy.
    dp = lab.dataplane("--test-channel-exception", "2", vdev="net_null0")
    check(wait_until(lambda: lab.in_sync_with(dp), 15), "in sync after the full push (commit 1)")
    s = lab.status()["dataplane"]
    check(s["refused_transactions"] == 0, "nothing refused yet")
    gen = s["generation"]

    def rx():
        rc, out, _ = lab.lbctl("-o", "json", "stats")
        return json.loads(out)["counters"]["rx_packets"] if rc == 0 else -1
    rx_before = rx()
    rc, out, err = lab.lbctl("backend", "add", "192.0.2.1:80/tcp", "be-x", "198.51.100.10")
    check(rc == 6, f"the transaction that met the exception is refused: exit {rc}")
    check("--test-channel-exception 2" in err, f"lbctl says why: {err.strip()}")
    s = lab.status()
    check(s["dataplane"]["refused_transactions"] == 1,
          f"refused_transactions counts it: {s['dataplane']['refused_transactions']}")
    check(s["dataplane"]["generation"] == gen, "the generation did not move")
    check(dp.poll() is None and s["dataplane"]["pid"] == dp.pid, "lb-dataplane lives on")
    check(wait_until(lambda: rx() > rx_before, 5), "the worker keeps receiving")
    rc, out, err = lab.lbctl("backend", "add", "192.0.2.1:80/tcp", "be-y", "198.51.100.11")
    check(rc == 0, f"the next change applies: {out.strip()} {err.strip()}")
    s = lab.status()
    check(s["dataplane"]["generation"] == gen + 1 and s["controlplane"]["in_sync"],
          f"generation {s['dataplane']['generation']}, in sync")
    lab.stop_timed(dp)
    lab.stop_timed(cp)


def status_shows_ports_and_audit_errors(lab):
    print("--- status: ports and the audit log's write errors", flush=True)
    cp = lab.controlplane("--audit-log", "/dev/full")  # every write fails: ENOSPC
    dp = lab.dataplane()
    check(wait_until(lambda: lab.attached_to(dp), 10), "the control plane attaches")
    rc, out, err = lab.lbctl("vip", "add", "192.0.2.50:443/tcp")
    check(rc == 0, f"a change applies although its audit line cannot be written: {out.strip()}")
    rc, out, err = lab.lbctl("backend", "add", "192.0.2.50:443/tcp", "tls-1", "198.51.100.50")
    check(rc == 0, f"and another: {out.strip()} {err.strip()}")
    s = lab.status()
    audit = s["controlplane"]["audit_log"]
    check(audit["path"] == "/dev/full" and audit["write_errors"] >= 2,
          f"status counts the audit log's write errors: {audit}")
    ports = s["dataplane"]["ports"]
    check(len(ports) == 1, f"one port: {ports}")
    p = ports[0]
    check(p["port_id"] == 0 and p["name"] == "net_null0" and p["driver"] == "net_null",
          f"name and driver: {p['name']} ({p['driver']})")
    check(re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", p["mac"]) is not None, f"MAC {p['mac']}")
    check(p["link_up"] is True and p["speed_mbps"] > 0 and p["mtu"] >= 576,
          f"link up {p['speed_mbps']} Mb/s, mtu {p['mtu']}")
    check(p["query_errors"] == 0, "no failed link/MTU queries")
    rc, out, err = lab.lbctl("status")
    check(re.search(r"\n  port 0: +net_null0 \(net_null\) " + re.escape(p["mac"]) +
                    r" link up \d+ Mb/s mtu \d+, ingress\n", out) is not None,
          "lbctl status prints the port line, with its role")
    check(re.search(r"\n  audit log: +/dev/full \(\d+ write errors\)\n", out) is not None,
          "lbctl status prints the audit log line")
    lab.stop_timed(dp)
    lab.stop_timed(cp)


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    lab = Lab(*sys.argv[1:4])
    try:
        stop_while_idle(lab)
        stop_while_forwarding(lab)
        stop_while_building(lab)
        stop_inside_a_large_table(lab)
        restart_and_second_instance(lab)
        controlplane_socket(lab)
        channel_exception(lab)
        status_shows_ports_and_audit_errors(lab)
    except Exception:
        for proc in lab.procs:
            print(f"--- log of pid {proc.pid}\n" + lab.text(proc.log)[-3000:])
        raise
    finally:
        lab.cleanup()
    if failures:
        print(f"{len(failures)} check(s) failed:\n  " + "\n  ".join(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
