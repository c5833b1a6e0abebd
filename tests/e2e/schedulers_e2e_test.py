#!/usr/bin/python3
"""End to end: schedulers, backup backends, slow start and the no-backend
answers with real TCP and UDP through Sluice in network namespaces (issue
16; DESIGN.md section 3).

1. least-connections: 30 keep-alive connections on be1 (the only backend
   enabled when they start); then be2 and be3 return, and 40 new
   connections all go to be2 and be3 (be1's established flows cost 256 each).
2. backup: be3 is a backup. New connections go to be1 and be2 only; with
   both disabled they go to be3, and keep-alive connections open there;
   when be1 returns, new connections go to it and those on be3 stay.
3. slow start (20 s): be3 returns to service; `backend list` shows its
   effective weight ramping, and its share of new connections right after
   its return is well below its share once the ramp is over.
4. no backend: every backend disabled. With `--no-backend reset` a TCP
   connect is refused at once (the client's kernel got an RST); with
   `--no-backend unreachable` a UDP client gets ECONNREFUSED (an ICMP port
   unreachable). The dataplane's counters name both.

Usage: schedulers_e2e_test.py BUILD_DIR
Needs root, network namespaces, veth, bridges and XDP. With CI=true a missing
capability fails the test; otherwise it is reported as skipped (exit 77).
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sluice_lab  # noqa: E402
from sluice_lab import VIP4_HTTP, VIP4_UDP, backend_addr4, note, read_json  # noqa: E402

VIP = VIP4_HTTP
VIP_KEY = f"{VIP}:80/tcp"
UDP_PORT = 5353  # backend_server.py's UDP echo
UDP_KEY = f"{VIP4_UDP}:{UDP_PORT}/udp"
failures = []


check = sluice_lab.checker(failures)


def config(scheduler="maglev", states=("active",) * 3, backup=(False,) * 3, slow_start=0):
    backends = []
    for i in range(1, 4):
        b = {"name": f"be{i}", "address": backend_addr4(i), "state": states[i - 1]}
        if backup[i - 1]:
            b["backup"] = True
        backends.append(b)
    return {"vips": [
        {"address": VIP, "port": 80, "protocol": "tcp", "scheduler": scheduler,
         "slow_start": slow_start, "backends": backends},
        {"address": VIP4_UDP, "port": UDP_PORT, "protocol": "udp",
         "backends": [{"name": f"be{i}", "address": backend_addr4(i)} for i in range(1, 4)]}]}


def open_long(lab, name, conns):
    """`conns` keep-alive connections requesting every 0.1 s, confirmed."""
    out = os.path.join(lab.tmp, name + ".json")
    lab.client_background(name, "http-long", VIP, 80, conns, 300, out)
    lab.wait_long(out, conns, 60, f"{conns} keep-alive connections to answer")
    return out


def on_backends(state):
    on = {}
    for s in state:
        for b in s["backends"]:
            on[b] = on.get(b, 0) + 1
    return on


def phase_least_connections(lab):
    print("--- 1. least-connections steers new connections away from a loaded backend")
    lab.apply_config(config("least-connections", ("active", "disabled", "disabled")))
    lab.wait_in_sync()
    out = open_long(lab, "lc-long", 30)
    check(on_backends(read_json(out)) == {"be1": 30},
          f"30 keep-alive connections on be1: {on_backends(read_json(out))}")
    lab.lbctl("backend", "enable", VIP_KEY, "be2")
    lab.lbctl("backend", "enable", VIP_KEY, "be3")
    lab.wait_in_sync()
    time.sleep(0.3)  # more than the 100 ms in which every lcore takes the counts
    fresh = lab.client("http-many", VIP, 80, 40)
    per = fresh["per_backend"]
    check(fresh["failures"] == 0 and per.get("be1", 0) == 0 and
          per.get("be2", 0) + per.get("be3", 0) == 40,
          f"40 new connections avoid be1 (30 established): {per} ({fresh['failures']} failed)")
    check(abs(per.get("be2", 0) - per.get("be3", 0)) <= 4,
          f"and are spread evenly over be2 and be3: {per}")
    state = read_json(out)
    check(all(not s["failed"] and s["backends"] == ["be1"] for s in state),
          "the 30 keep-alive connections stayed on be1 and kept answering")
    # What least-connections counted: be1's 30 established entries; the 40
    # short connections (closed by FIN) inactive on be2 and be3.
    show = json.loads(lab.lbctl("-o", "json", "vip", "show", VIP_KEY).stdout)["vip"]
    counts = {b["name"]: (b["counters"]["active"], b["counters"]["inactive"])
              for b in show["backends"]}
    check(counts["be1"][0] == 30 and counts["be2"][0] + counts["be3"][0] == 0 and
          counts["be2"][1] + counts["be3"][1] == 40,
          f"vip show counts the entries by class (active, inactive): {counts}")
    lab.stop("lc-long")


def phase_backup(lab):
    print("--- 2. a backup takes new connections while no primary can, and gives them back")
    lab.apply_config(config(backup=(False, False, True)))
    lab.wait_in_sync()
    per = lab.client("http-many", VIP, 80, 30)["per_backend"]
    check(per.get("be3", 0) == 0 and sum(per.values()) == 30,
          f"with both primaries up, new connections avoid backup be3: {per}")
    lab.lbctl("backend", "disable", VIP_KEY, "be1")
    lab.lbctl("backend", "disable", VIP_KEY, "be2")
    lab.wait_in_sync()
    per = lab.client("http-many", VIP, 80, 20)["per_backend"]
    check(per == {"be3": 20}, f"with both primaries disabled, backup be3 takes them: {per}")
    out = open_long(lab, "backup-long", 10)
    lab.lbctl("backend", "enable", VIP_KEY, "be1")
    lab.wait_in_sync()
    per = lab.client("http-many", VIP, 80, 20)["per_backend"]
    check(per == {"be1": 20}, f"be1 back: new connections go to it again: {per}")
    time.sleep(0.5)
    state = read_json(out)
    check(all(not s["failed"] and s["backends"] == ["be3"] for s in state),
          f"the 10 connections opened on be3 stay there: {on_backends(state)}")
    lab.stop("backup-long")


def effective_weight(lab, name):
    r = json.loads(lab.lbctl("-o", "json", "backend", "list", VIP_KEY).stdout)
    return next(b["effective_weight"] for b in r["backends"] if b["name"] == name)


def phase_slow_start(lab):
    print("--- 3. slow start ramps a returning backend's share of new connections")
    ramp = 20
    # Slow start turned on once be1 and be2 serve, so that only be3 ramps
    # (a backend that returns in the same change would ramp too).
    lab.apply_config(config(states=("active", "active", "disabled")))
    lab.lbctl("vip", "set", VIP_KEY, "--slow-start", str(ramp))
    lab.wait_in_sync()
    lab.lbctl("backend", "enable", VIP_KEY, "be3")
    returned = time.time()
    lab.wait_in_sync()
    early_weight = effective_weight(lab, "be3")
    early = lab.client("http-many", VIP, 80, 150)["per_backend"]
    early_s = time.time() - returned
    lab.wait_for(lambda: time.time() - returned > ramp + 1, ramp + 5, "the ramp to end")
    lab.wait_in_sync()
    late_weight = effective_weight(lab, "be3")
    late = lab.client("http-many", VIP, 80, 150)["per_backend"]
    check(set(late) == {"be1", "be2", "be3"}, f"after the ramp all three take connections: {late}")
    e_share = early.get("be3", 0) / max(1, sum(early.values()))
    l_share = late.get("be3", 0) / max(1, sum(late.values()))
    note(f"be3's share: {e_share:.2f} in the first {early_s:.1f} s ({early}), {l_share:.2f} "
         f"after the ramp ({late}); effective weight {early_weight} then {late_weight}")
    check(early_weight < 0.5 and late_weight == 1,
          f"backend list: be3's effective weight ramps ({early_weight} right after its return, "
          f"{late_weight} after {ramp} s)")
    check(e_share < 0.15 and l_share > 0.2 and l_share > 2 * e_share,
          f"be3's share of new connections ramps: {e_share:.2f} early, {l_share:.2f} after the "
          "ramp (a full share is a third)")


def phase_no_backend(lab):
    print("--- 4. no usable backend: reset and unreachable")
    lab.apply_config(config(states=("disabled",) * 3))
    lab.lbctl("vip", "set", VIP_KEY, "--no-backend", "reset")
    for i in range(1, 4):
        lab.lbctl("backend", "disable", UDP_KEY, f"be{i}")
    lab.lbctl("vip", "set", UDP_KEY, "--no-backend", "unreachable")
    lab.wait_in_sync()
    before = lab.stats()
    r = lab.client("tcp-connect", VIP, 80, 5)["attempts"]
    check(all(a["outcome"] == "ECONNREFUSED" and a["seconds"] < 0.5 for a in r),
          f"reset: every connect is refused at once: {r}")
    u = lab.client("udp-error", VIP4_UDP, UDP_PORT, 5)["outcomes"]
    check(u == ["ECONNREFUSED"] * 5, f"unreachable: a UDP client gets its ICMP error: {u}")
    after = lab.stats()
    d = {k: after[k] - before[k] for k in ("no_backend_rst_sent", "no_backend_unreachable_sent",
                                           "drop_no_backend")}
    check(d["no_backend_rst_sent"] >= 5 and d["no_backend_unreachable_sent"] >= 5 and
          d["drop_no_backend"] == 0,
          f"the dataplane counted its answers, and no packet as dropped: {d}")
    # Back to a backend: the VIP forwards again.
    lab.lbctl("backend", "enable", VIP_KEY, "be2")
    lab.wait_in_sync()
    r = lab.client("tcp-connect", VIP, 80, 3)["attempts"]
    check(all(a["outcome"] == "ok" for a in r), f"with be2 enabled connects succeed: {r}")


def run(lab):
    lab.up()
    lab.start_backends([VIP, VIP4_UDP])
    lab.start_controlplane()
    lab.start_dataplane()
    lab.apply_config(config())
    lab.wait_in_sync()
    phase_least_connections(lab)
    phase_backup(lab)
    phase_slow_start(lab)
    phase_no_backend(lab)


def main():
    return sluice_lab.run_lab_test("schedulers e2e", "s16", sys.argv[1], run, failures)


if __name__ == "__main__":
    sys.exit(main())
