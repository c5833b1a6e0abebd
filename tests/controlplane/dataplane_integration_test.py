#!/usr/bin/python3
"""lb-controlplane driving the real lb-dataplane.

The dataplane runs in a network namespace this test creates, on one end of a
veth pair (net_af_packet); scapy, inside the namespace, sends client packets
into the other end and sniffs the encapsulated packets coming back out of
it. The control plane runs in the root namespace (the shared-memory segment
is shared). Checked:

- a config applied through the socket is acknowledged and packets go to the
  backends flow.explain names (outer destination = explained backend);
- removing a backend, raising a weight, draining a backend while flows
  exist: established flows stay on their backend (except the removed
  backend's, which follow the new table), new flows follow the new table,
  and only part of the new flows move (the moved share is reported);
- kill -9 of the dataplane and a restart: the control plane notices the new
  boot id, pushes the whole state again, forwarding resumes;
- kill -9 of the control plane: the dataplane keeps forwarding with its last
  tables; a restarted control plane re-pushes the same state;
- the time from request to acknowledgement over 1000 backend.set weight
  changes, p50/p99 printed (never asserted).

Only documentation addresses are used, and every packet stays in the
namespace. Processes are ended by PID and the namespace removed in a
finally block, also on failure. Needs root, `ip netns`, veth and Debian's
python3-scapy: without them the test is skipped (exit 77), or fails when
CI=true.

Usage: dataplane_integration_test.py PATH/TO/lb-controlplane PATH/TO/lb-dataplane
       (internal) dataplane_integration_test.py --traffic IFACE SPEC.json
"""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cp_client import check, failures, report, ApiClient, call, start_controlplane, stop, wait_for_socket, wait_until  # noqa: E402

PYTHON = "/usr/bin/python3"  # Debian's, with scapy
SKIP = 77
OUTER_SRC = "192.0.2.1"
VIP = "192.0.2.10"
VIP_KEY = f"{VIP}:80/tcp"
BACKENDS = {f"web-{i}": f"198.51.100.{i}" for i in range(1, 5)}
NAME_OF = {addr: name for name, addr in BACKENDS.items()}



# --- traffic (runs inside the namespace) ------------------------------------

def traffic_main(iface, spec_path):
    """Sends one TCP packet per flow and reports each flow's outer
    destination, as seen on `iface`. Output: one line 'RESULT <json>'."""
    import threading
    from scapy.all import IP, TCP, AsyncSniffer, Ether, Raw, conf, sendp
    conf.verb = 0
    spec = json.load(open(spec_path))
    flows = [tuple(f) for f in spec["flows"]]
    wanted = {f"{c}:{s}" for c, s in flows}
    seen, conflicts = {}, []
    lock = threading.Lock()

    def on_packet(p):
        if IP not in p or p[IP].proto != 4 or p[IP].src != spec["outer_src"]:
            return
        inner = p[IP].payload
        if not isinstance(inner, IP) or TCP not in inner:
            return
        key = f"{inner.src}:{inner[TCP].sport}"
        with lock:
            if key in seen and seen[key] != p[IP].dst:
                conflicts.append(key)
            seen[key] = p[IP].dst

    started = threading.Event()
    sniffer = AsyncSniffer(iface=iface, store=False, prn=on_packet,
                           started_callback=started.set)
    sniffer.start()
    started.wait(5)
    time.sleep(0.2)
    deadline = time.monotonic() + spec["timeout"]
    for attempt in range(3):
        with lock:
            missing = [f for f in flows if f"{f[0]}:{f[1]}" not in seen]
        if not missing:
            break
        pkts = [Ether(src=spec["src_mac"], dst=spec["dst_mac"]) /
                IP(src=c, dst=spec["vip"], ttl=64) /
                TCP(sport=s, dport=spec["port"], flags=spec["flags"], seq=1000) / Raw(b"sluice")
                for c, s in missing]
        sendp(pkts, iface=iface)
        step_end = min(deadline, time.monotonic() + spec["timeout"] / 3)
        while time.monotonic() < step_end:
            with lock:
                if wanted <= set(seen):
                    break
            time.sleep(0.05)
    time.sleep(0.2)  # late duplicates would show up as conflicts
    sniffer.stop()
    with lock:
        print("RESULT " + json.dumps({"seen": seen, "conflicts": conflicts}), flush=True)
    return 0


# --- the test (root namespace) ----------------------------------------------

def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60, **kw)


class Env:
    def __init__(self, cp_bin, dp_bin):
        self.cp_bin, self.dp_bin = cp_bin, dp_bin
        pid = os.getpid()
        self.ns = f"sluice-cp-{pid}"
        self.veth_a, self.veth_b = f"cpa{pid % 100000}", f"cpb{pid % 100000}"
        self.instance = f"cp-it-{pid}"
        self.tmp = tempfile.mkdtemp(prefix="sluice-cp-it-")
        self.socket = os.path.join(self.tmp, "cp.sock")
        self.state = os.path.join(self.tmp, "state.json")
        self.audit = os.path.join(self.tmp, "audit.log")
        self.dp = None
        self.cp = None
        self.ns_made = False
        self.dp_runs = 0

    def netns(self):
        run(["ip", "netns", "add", self.ns])
        self.ns_made = True
        ip = ["ip", "-n", self.ns]
        run(ip + ["link", "add", self.veth_a, "type", "veth", "peer", "name", self.veth_b])
        for dev in (self.veth_a, self.veth_b):
            run(["ip", "netns", "exec", self.ns, "sysctl", "-qw",
                 f"net.ipv6.conf.{dev}.disable_ipv6=1"])
            run(ip + ["link", "set", dev, "up"])
        self.mac_a = run(["ip", "netns", "exec", self.ns, "cat",
                          f"/sys/class/net/{self.veth_a}/address"]).stdout.strip()
        self.mac_b = run(["ip", "netns", "exec", self.ns, "cat",
                          f"/sys/class/net/{self.veth_b}/address"]).stdout.strip()

    def start_dataplane(self):
        self.dp_runs += 1
        log = open(os.path.join(self.tmp, f"dataplane-{self.dp_runs}.log"), "wb")
        self.dp = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, self.dp_bin, "--no-huge", "-m", "512", "--no-pci",
             "--no-shconf", "-l", "0,1", "--vdev", f"net_af_packet0,iface={self.veth_a}", "--",
             "--instance", self.instance, "--next-hop-mac", self.mac_b,
             "--outer-src-v4", OUTER_SRC, "--idle-backoff-us", "100"],
            stdout=log, stderr=subprocess.STDOUT)

    def start_controlplane(self):
        self.cp = start_controlplane(
            self.cp_bin, ["--instance", self.instance, "--socket", self.socket,
                          "--state-file", self.state, "--audit-log", self.audit],
            os.path.join(self.tmp, "controlplane.log"))
        wait_for_socket(self.socket, self.cp)

    def status(self):
        return call(self.socket, {"op": "status"})["result"]

    def traffic(self, flows, timeout=6.0):
        spec = os.path.join(self.tmp, "spec.json")
        json.dump({"flows": flows, "vip": VIP, "port": 80, "flags": "S", "outer_src": OUTER_SRC,
                   "src_mac": self.mac_b, "dst_mac": self.mac_a, "timeout": timeout},
                  open(spec, "w"))
        out = subprocess.run(["ip", "netns", "exec", self.ns, PYTHON, os.path.abspath(__file__),
                              "--traffic", self.veth_b, spec],
                             capture_output=True, text=True, timeout=timeout + 60)
        for line in out.stdout.splitlines():
            if line.startswith("RESULT "):
                r = json.loads(line[7:])
                check(not r["conflicts"], f"no flow seen at two backends ({r['conflicts'][:3]})")
                return {tuple(k.rsplit(":", 1)[0:1]) + (int(k.rsplit(":", 1)[1]),): NAME_OF.get(v, v)
                        for k, v in r["seen"].items()}
        raise RuntimeError(f"traffic helper failed: {out.stderr[-2000:]}")

    def close(self):
        for proc in (self.cp, self.dp):
            stop(proc, signal.SIGTERM, timeout=10)
        if self.ns_made:
            subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        try:
            os.unlink(f"/dev/shm/sluice-{self.instance}")
        except OSError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def explain(client, flows):
    out = {}
    for c, s in flows:
        a = client.call({"op": "flow.explain", "client": c, "client_port": s, "vip": VIP,
                         "vip_port": 80, "protocol": "tcp"})
        out[(c, s)] = a["result"]["backend"]["name"] if a.get("ok") and a["result"]["backend"] else None
    return out


def flows(base, n):
    return [(f"203.0.113.{1 + i % 50}", base + i) for i in range(n)]


def compare(actual, expected, what):
    missing = [f for f in expected if f not in actual]
    wrong = [(f, actual[f], expected[f]) for f in expected if f in actual and actual[f] != expected[f]]
    check(not missing, f"{what}: every flow came out ({len(missing)} missing of {len(expected)})")
    check(not wrong, f"{what}: every flow went where expected ({len(wrong)} wrong: {wrong[:3]})")


def moved_share(before, after):
    moved = [f for f in before if before[f] != after[f]]
    return moved, len(moved) / max(1, len(before))


def capabilities_missing():
    if os.geteuid() != 0:
        return "needs root"
    try:
        subprocess.run([PYTHON, "-c", "import scapy.all"], check=True, capture_output=True,
                       timeout=60)
    except (OSError, subprocess.SubprocessError):
        return f"{PYTHON} cannot import scapy (apt-get install python3-scapy)"
    probe = f"sluice-cp-probe-{os.getpid()}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        return f"cannot create a network namespace: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def scenario(env):
    env.netns()
    env.start_dataplane()
    env.start_controlplane()
    check(wait_until(lambda: env.status()["dataplane"]["attached"], 30),
          "the control plane attaches to the dataplane")
    boot1 = env.status()["dataplane"]["boot_id"]

    config = {"vips": [{"address": VIP, "port": 80, "protocol": "tcp", "encap": "ipip",
                        "backends": [{"name": n, "address": a} for n, a in BACKENDS.items()]}]}
    c = ApiClient(env.socket, timeout=30)
    a = c.call({"op": "config.apply", "config": config})
    check(a.get("ok") is True and "dataplane" not in a, f"config applied and acknowledged: {a}")
    st = env.status()
    check(st["controlplane"]["in_sync"] and st["dataplane"]["generation"] >= 1,
          f"in sync at generation {st['dataplane']['generation']}")

    # 1. Packets go where flow.explain says.
    f1 = flows(10000, 200)
    e1 = explain(c, f1)
    check(set(e1.values()) == set(BACKENDS), f"flows spread over all 4 backends: {sorted(set(e1.values()))}")
    got1 = env.traffic(f1)
    compare(got1, e1, "initial flows")
    show = c.call({"op": "vip.show", "vip": VIP_KEY})["result"]["vip"]
    check(show["counters"]["new_flows"] == len(f1),
          f"vip.show counts {show['counters']['new_flows']} new flows of {len(f1)}")
    per_backend = {b["name"]: b["counters"]["new_flows"] for b in show["backends"]}
    expected_per_backend = {n: list(e1.values()).count(n) for n in BACKENDS}
    check(per_backend == expected_per_backend,
          f"per-backend new flows {per_backend} match the explained spread")

    # 2. Remove a backend while flows exist.
    f2 = flows(20000, 200)
    e2_before = explain(c, f2)
    a = c.call({"op": "backend.del", "vip": VIP_KEY, "name": "web-4"})
    check(a.get("ok") is True and "dataplane" not in a, "backend.del acknowledged")
    e1_after = explain(c, f1)
    e2_after = explain(c, f2)
    check("web-4" not in e2_after.values(), "no new flow goes to the removed backend")
    moved, share = moved_share(e2_before, e2_after)
    from_removed = sum(1 for f in moved if e2_before[f] == "web-4")
    others = len(moved) - from_removed
    print(f"      removal: {len(moved)}/{len(f2)} new flows moved ({share:.1%}); "
          f"{from_removed} were on web-4, {others} others moved")
    check(from_removed == list(e2_before.values()).count("web-4"),
          "every flow of the removed backend moved")
    check(others <= 0.1 * len(f2), f"few flows of other backends moved ({others})")
    got1b = env.traffic(f1)
    kept = {f: got1[f] for f in f1 if got1.get(f) != "web-4"}
    compare({f: got1b.get(f) for f in kept if f in got1b}, kept,
            "established flows of remaining backends stay")
    refollowed = {f: e1_after[f] for f in f1 if got1.get(f) == "web-4"}
    compare({f: got1b[f] for f in refollowed if f in got1b}, refollowed,
            "flows of the removed backend follow the new table")
    compare(env.traffic(f2), e2_after, "new flows after the removal")

    # 3. Raise a weight while flows exist.
    f3 = flows(30000, 200)
    e3_before = explain(c, f3)
    a = c.call({"op": "backend.set", "vip": VIP_KEY, "name": "web-1", "weight": 3})
    check(a.get("ok") is True and a["result"]["backend"]["weight"] == 3, "weight change acknowledged")
    e3_after = explain(c, f3)
    moved, share = moved_share(e3_before, e3_after)
    to_web1 = sum(1 for f in moved if e3_after[f] == "web-1")
    print(f"      weight 1->3: {len(moved)}/{len(f3)} new flows moved ({share:.1%}), "
          f"{to_web1} of them to web-1")
    check(0 < share < 0.6, f"only part of the new flows moved ({share:.1%})")
    check(to_web1 >= 0.8 * len(moved), "the flows that moved went mostly to web-1")
    got1c = env.traffic(f1)
    compare(got1c, got1b, "established flows stay put after a weight change")
    compare(env.traffic(f3), e3_after, "new flows after the weight change")

    # 4. Drain a backend: its flows stay, no new ones.
    f4 = flows(40000, 150)
    a = c.call({"op": "backend.set", "vip": VIP_KEY, "name": "web-2", "state": "draining"})
    check(a.get("ok") is True, "drain acknowledged")
    e4 = explain(c, f4)
    check("web-2" not in e4.values(), "no new flow is explained to the draining backend")
    compare(env.traffic(f1), got1b, "established flows (also the draining backend's) stay")
    compare(env.traffic(f4), e4, "new flows avoid the draining backend")

    # 5. Request -> acknowledgement latency.
    lat = []
    t_all = time.monotonic()
    for i in range(1000):
        t0 = time.monotonic()
        a = c.call({"op": "backend.set", "vip": VIP_KEY, "name": "web-3", "weight": 2 + i % 2})
        lat.append(time.monotonic() - t0)
        if a.get("ok") is not True or "dataplane" in a:
            check(False, f"weight change {i} acknowledged: {a}")
            break
    lat.sort()
    p50, p99 = lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99) - 1] * 1e3
    print(f"      apply latency over {len(lat)} backend.set: p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
          f"mean {statistics.mean(lat) * 1e3:.2f} ms, total {time.monotonic() - t_all:.1f} s",
          flush=True)
    check(len(lat) == 1000, "1000 acknowledged weight changes")
    audit = [json.loads(l) for l in open(env.audit)]
    check(len(audit) == 1004 and all(isinstance(l["generation"], int) for l in audit),
          f"one audited generation per accepted change ({len(audit)} lines)")
    c.close()

    # 6. kill -9 of the dataplane, then a restart.
    e5_flows = flows(50000, 100)
    e5 = explain(ApiClient(env.socket), e5_flows)
    os.kill(env.dp.pid, signal.SIGKILL)  # `ip netns exec` execs the dataplane: this is its PID
    env.dp.wait(timeout=20)
    check(wait_until(lambda: not env.status()["dataplane"]["attached"], 10),
          "the control plane notices the dataplane is gone (heartbeat)")
    env.start_dataplane()
    check(wait_until(lambda: env.status()["dataplane"].get("boot_id") not in (None, boot1)
                     and env.status()["controlplane"]["in_sync"], 30),
          "after the restart: new boot id, whole state pushed again, in sync")
    compare(env.traffic(e5_flows), e5, "forwarding resumes after the dataplane restart")
    export = call(env.socket, {"op": "config.export"})

    # 7. kill -9 of the control plane: the dataplane keeps its tables.
    e6_flows = flows(60000, 100)
    e6 = explain(ApiClient(env.socket), e6_flows)
    os.kill(env.cp.pid, signal.SIGKILL)
    env.cp.wait(timeout=20)
    compare(env.traffic(e6_flows), e6, "the dataplane forwards without a control plane")
    check(env.dp.poll() is None, "the dataplane is still running")

    # 8. A new control plane: same state, pushed again.
    os.unlink(env.socket)  # left by the killed daemon; a live one would refuse
    env.start_controlplane()
    check(wait_until(lambda: env.status()["controlplane"]["in_sync"], 30),
          "a restarted control plane re-pushes its state")
    check(call(env.socket, {"op": "config.export"}) == export, "with the same configuration")
    compare(env.traffic(e6_flows), e6, "and flows still go to the same backends")
    check(stop(env.cp) == 0, "the control plane stops cleanly on SIGTERM")
    check(env.dp.poll() is None, "and the dataplane keeps running")


def main(argv):
    if len(argv) >= 2 and argv[1] == "--traffic":
        return traffic_main(argv[2], argv[3])
    if len(argv) != 3:
        print(__doc__)
        return 2
    missing = capabilities_missing()
    if missing:
        print(("FAIL: " if os.environ.get("CI") == "true" else "SKIP: ") + missing)
        return 1 if os.environ.get("CI") == "true" else SKIP
    env = Env(os.path.abspath(argv[1]), os.path.abspath(argv[2]))
    try:
        scenario(env)
    except Exception as e:  # a broken step fails the test, after cleanup
        check(False, f"scenario raised {type(e).__name__}: {e}")
    finally:
        if failures:
            for name in sorted(os.listdir(env.tmp)) if os.path.isdir(env.tmp) else []:
                if name.endswith(".log"):
                    print(f"---- {name} ----")
                    print(open(os.path.join(env.tmp, name), errors="replace").read()[-3000:])
        env.close()
    return report()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
