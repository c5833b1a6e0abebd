#!/usr/bin/python3
"""End to end: the connection table's lifecycle with real TCP through Sluice
in network namespaces (issue 11; DESIGN.md section 3).

1. Flood: a table of 16,384 entries per lcore, 200 established keep-alive
   connections, then backend weights change (so a flow that lost its entry
   would move, and be reset) and a spoofed SYN flood of 10 times the
   table's capacity arrives (the insert cap is lowered to 10,000 per
   second so that the flood guard engages at the lab's sending rate). At
   least 99.9% of the 200 stay on their backend and keep answering, new
   real connections made during the flood succeed, no established entry
   gives way, and the counters show half-open entries recycled and inserts
   refused by the flood guard.
2. Drain with a full table: a table of 64 entries already full of spoofed
   established flows; 100 keep-alive connections start (their SYNs find no
   room) and at most 64 of them can be in the table at any time. Draining a
   backend that holds some of them resets none: each keeps its backend
   (the second chance). New connections all answer; the drained backend
   serves only those whose SYN found no room on a slot it still holds for
   flows under way (their later packets miss too and go there), counted as
   new_flows_unentered_to_draining.
3. Drain, then restart: a backend drains, lb-dataplane is killed (-9) and
   started again; the control plane pushes the state to it. None of the
   connections is reset, those of the draining backend stay on it, and new
   connections avoid it.

A connection counts as reset when a request on it fails in any way: reset,
broken pipe, end of stream, a silent reconnect, or no answer within the
request timeout.

Spoofed sources come from 203.0.113.128/25 (unused in the lab); every
backend and the router have a blackhole route for it, so the backends'
answers to them (SYN-ACKs, RSTs) are dropped inside the lab.

Usage: conn_lifecycle_test.py BUILD_DIR
Needs root, network namespaces, veth, bridges and XDP. With CI=true a missing
capability fails the test; otherwise it is reported as skipped (exit 77).
"""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sluice_lab  # noqa: E402
from sluice_lab import E2E, PYTHON, VIP4_HTTP, backend_addr4, note, read_json  # noqa: E402

VIP = VIP4_HTTP
VIP_KEY = f"{VIP}:80/tcp"
SPOOF_NET = "203.0.113.128/25"
failures = []


check = sluice_lab.checker(failures)


def config(weights=(1, 1, 1)):
    return {"vips": [{"address": VIP, "port": 80, "protocol": "tcp", "encap": "ipip",
                      "backends": [{"name": f"be{i}", "address": backend_addr4(i),
                                    "weight": w} for i, w in enumerate(weights, start=1)]}]}


def broken(s):
    """Why a long-lived connection broke ('' if it did not)."""
    if not s["failed"]:
        return ""
    e = s["errors"][0]
    if "timed out" in e or "Timeout" in e:
        return "timeout"
    return "reset"  # ECONNRESET, EPIPE, end of stream or a silent reconnect


def summarize(state, ok_before):
    """Per-connection verdicts after an event: kept = never failed, answered
    again since `ok_before`, and on one backend all along."""
    kept, resets, timeouts, moved, silent = 0, 0, 0, 0, 0
    for i, s in enumerate(state):
        why = broken(s)
        if why == "reset":
            resets += 1
        elif why == "timeout":
            timeouts += 1
        elif len(s["backends"]) != 1:
            moved += 1
        elif s["ok"] <= ok_before[i]:
            silent += 1
        else:
            kept += 1
    return {"kept": kept, "resets": resets, "timeouts": timeouts, "moved": moved,
            "no_new_answer": silent}


def first_errors(state, n=3):
    return [s["errors"][0] for s in state if s["errors"]][:n]


def wait_answered_again(lab, path, ok_before, seconds):
    """Until every connection that has not failed answered once more (bounded)."""
    def again():
        state = read_json(path)
        return all(s["failed"] or s["ok"] > ok_before[i] for i, s in enumerate(state))
    try:
        lab.wait_for(again, seconds, "every long-lived connection to answer again")
    except TimeoutError:
        pass  # summarize() reports the ones that did not
    return read_json(path)


def delta(after, before, *names):
    return {n: after[n] - before[n] for n in names}


CONN_COUNTERS = ("rx_packets", "conn_hits", "conn_misses", "conn_misses_non_syn", "conn_inserts",
                 "conn_insert_failed", "conn_insert_capped", "conn_expired_reused",
                 "conn_replaced_half_open", "conn_replaced_closing", "conn_replaced_lru",
                 "new_flows", "new_flows_unentered_to_draining", "drop_no_backend")


def router_mac_to_client(lab):
    return lab.ns_run(lab.env["NS_ROUTER"], ["cat", "/sys/class/net/rc0/address"]).strip()


def spoof(lab, name, flags, count, rate, seed):
    """Starts spoof_flood.py in the client's namespace (see its docstring)."""
    return lab.spawn(name, ["ip", "netns", "exec", lab.env["NS_CLIENT"], PYTHON,
                            os.path.join(E2E, "spoof_flood.py"), "c0", router_mac_to_client(lab),
                            VIP, "80", SPOOF_NET, str(count), flags, str(rate), str(seed)])


def spoof_result(lab, name, proc, seconds):
    proc.wait(timeout=seconds)
    out = lab.read_log(name).strip().splitlines()
    if proc.returncode != 0 or not out:
        raise RuntimeError(f"spoof_flood {name} failed: {lab.read_log(name)}")
    return json.loads(out[-1])


def answers_sent(lab):
    """Packets the backends sent (all of them go toward clients: DSR) and
    packets the real client received."""
    tx = sum(lab.link_stats(lab.ns_backend(i), "eth0")["tx_packets"]
             for i in range(1, lab.n_backends + 1))
    return tx, lab.link_stats(lab.env["NS_CLIENT"], "c0")["rx_packets"]


def blackhole_spoofed(lab):
    """Answers to spoofed sources die inside the lab: in each backend (where
    the SYN-ACKs are made) and in the router (defence in depth)."""
    for ns in [lab.ns_backend(i) for i in range(1, lab.n_backends + 1)] + [lab.env["NS_ROUTER"]]:
        subprocess.run(["ip", "-n", ns, "route", "add", "blackhole", SPOOF_NET], check=True)


def explain(lab, port):
    r = lab.lbctl("-o", "json", "flow", "explain", "203.0.113.10", str(port), VIP, "80", "tcp")
    return json.loads(r.stdout)


def phase_flood(lab):
    print("--- 1. SYN flood of 10x a 16,384-entry table over 200 established connections")
    # The lab's sender reaches a few tens of thousands of packets per
    # second, under the default cap of 125,000 inserts per second: a cap of
    # 10,000 makes the flood guard engage too.
    lab.start_dataplane(flows_per_lcore=16384, extra=("--max-inserts-per-sec", "10000"))
    lab.wait_in_sync()
    capacity = 16384  # a power of two: --flows-per-lcore is taken as it is
    conns = 200
    long_out = os.path.join(lab.tmp, "flood-long.json")
    lab.client_background("flood-long", "http-long", VIP, 80, conns, 300, long_out)
    state = lab.wait_long(long_out, conns, 60, f"{conns} long-lived connections to answer")
    on = {}
    for s in state:
        on[s["backends"][0]] = on.get(s["backends"][0], 0) + 1
    note(f"{conns} connections established and confirmed: {on}")

    # New weights move a share of Maglev's slots: a connection in a moved
    # slot now depends on its entry; without it, it would reach another
    # backend and be reset.
    lab.lbctl("backend", "set-weight", VIP_KEY, "be3", "4")
    lab.wait_in_sync()
    depends = sum(1 for s in state if explain(lab, s["port"])["backend"]["name"] != s["backends"][0])
    check(depends > 0, f"{depends} of {conns} connections now depend on their entry "
                       "(a new flow with their tuple would go to another backend)")
    time.sleep(1)
    ok_before = [s["ok"] for s in read_json(long_out)]

    before = lab.stats()
    flood_count = 10 * capacity
    sent_back_before = answers_sent(lab)
    flood = spoof(lab, "syn-flood", "syn", flood_count, 100000, 11)
    lab.wait_for(lambda: '"sending"' in lab.read_log("syn-flood") or flood.poll() is not None,
                 60, "the flood's frames to be built")
    # New real connections while the flood runs (bounded rounds).
    during = {"per_backend": {}, "failures": 0, "errors": [], "rounds": 0}
    for _ in range(60):
        if flood.poll() is not None and during["rounds"] >= 1:
            break
        r = lab.client("http-many", VIP, 80, 20)
        during["rounds"] += 1
        during["failures"] += r["failures"]
        during["errors"] += r["errors"][:2]
        for k, v in r["per_backend"].items():
            during["per_backend"][k] = during["per_backend"].get(k, 0) + v
    sent = spoof_result(lab, "syn-flood", flood, 90)
    mid = lab.stats()
    note(f"flood: {sent['sent']} spoofed SYNs in {sent['seconds']}s ({sent['pps']}/s); "
         f"counters during it: {delta(mid, before, *CONN_COUNTERS)}")
    check(sent["sent"] >= flood_count, f"{sent['sent']} distinct spoofed SYNs sent "
                                       f"(10x the capacity of {capacity})")
    d = delta(mid, before, *CONN_COUNTERS)
    check(d["conn_misses"] >= 3 * capacity,
          f"the dataplane saw {d['conn_misses']} new flows during the flood (at least 3x the "
          "table's capacity)")
    check(d["conn_replaced_half_open"] > 0 and d["conn_insert_capped"] > 0,
          f"the full table recycled half-open entries ({d['conn_replaced_half_open']}) and the "
          f"flood guard refused inserts ({d['conn_insert_capped']}); insert_failed "
          f"{d['conn_insert_failed']}")
    check(d["conn_replaced_lru"] == 0,
          f"no established entry gave way during the flood (replaced_lru {d['conn_replaced_lru']})")
    new_total = sum(during["per_backend"].values())
    check(during["failures"] == 0 and new_total > 0,
          f"{new_total} new real connections during the flood all answered "
          f"({during['failures']} failed {during['errors'][:3]}) {during['per_backend']}")
    backends_tx, client_rx = (a - b for a, b in zip(answers_sent(lab), sent_back_before))
    check(backends_tx - client_rx < flood_count // 100,
          f"answers to spoofed sources stayed in the backends: they sent {backends_tx} packets "
          f"during the flood and the client received {client_rx}")

    state = wait_answered_again(lab, long_out, ok_before, 15)
    v = summarize(state, ok_before)
    share = v["kept"] / conns
    check(share >= 0.999,
          f"{v['kept']} of {conns} established connections ({100 * share:.1f}%) stayed on "
          f"their backend and answered after the flood (at least 99.9%): {v} "
          f"{first_errors(state)}")
    lab.stop("flood-long")
    return {"flood_sent": sent["sent"], "flood_pps": sent["pps"], "kept": v["kept"],
            "of": conns, "resets": v["resets"] + v["timeouts"], "depends_on_entry": depends,
            "new_during_flood": new_total, "new_failed": during["failures"], "counters": d}


def phase_drain_full_table(lab):
    print("--- 2. Drain with a full table: 100 connections, a 64-entry table")
    lab.apply_config(config())
    lab.wait_in_sync()
    lab.stop_dataplane()
    table = 64
    lab.start_dataplane(flows_per_lcore=table)
    lab.wait_in_sync()
    # Fill the table with established-looking spoofed flows first.
    before = lab.stats()
    fill = spoof(lab, "ack-fill", "ack", 40 * table, 20000, 22)
    spoof_result(lab, "ack-fill", fill, 60)
    filled = lab.stats()
    d = delta(filled, before, *CONN_COUNTERS)
    check(d["conn_inserts"] >= table and d["conn_replaced_lru"] > 0,
          f"{40 * table} spoofed established flows filled the {table}-entry table "
          f"(inserts {d['conn_inserts']}, replaced_lru {d['conn_replaced_lru']})")

    conns = 100
    long_out = os.path.join(lab.tmp, "full-long.json")
    lab.client_background("full-long", "http-long", VIP, 80, conns, 300, long_out)
    state = lab.wait_long(long_out, conns, 60, f"{conns} long-lived connections to answer")
    started = lab.stats()
    d = delta(started, filled, *CONN_COUNTERS)
    check(d["conn_insert_failed"] > 0,
          f"connections started while the table was full: {d['conn_insert_failed']} of their "
          f"SYNs found no room; {d['conn_misses_non_syn']} of their packets missed the table "
          f"and {d['conn_replaced_lru']} entries were recycled (at most {table} of {conns} "
          "connections can be in the table at once)")
    on = {}
    for s in state:
        on[s["backends"][0]] = on.get(s["backends"][0], 0) + 1
    drained = max(on, key=on.get)
    time.sleep(0.5)
    ok_before = [s["ok"] for s in read_json(long_out)]
    lab.lbctl("backend", "drain", VIP_KEY, drained)
    lab.wait_in_sync()
    note(f"drained {drained}, which serves {on[drained]} of the {conns} connections {on}")
    time.sleep(2)
    before_new = lab.stats()
    after_drain = lab.client("http-many", VIP, 80, 60)
    d_new = delta(lab.stats(), before_new, *CONN_COUNTERS)
    state = wait_answered_again(lab, long_out, ok_before, 15)
    v = summarize(state, ok_before)
    on_drained = [s for s in state if s["backends"][:1] == [drained]]
    check(v["kept"] == conns,
          f"drain with a full table: {v['kept']} of {conns} connections kept their backend and "
          f"answered, {len(on_drained)} of them on drained {drained}: {v} {first_errors(state)}")
    # New connections: all answered. A SYN that finds no room (the table is
    # full of established flows) on a slot the drained backend still holds
    # for flows under way goes there, where its later packets (misses too)
    # will go: only those reach the drained backend, each counted.
    where = {}
    for port in after_drain["failed_ports"]:
        e = explain(lab, port)
        k = (f"SYN to {(e.get('backend') or {}).get('name')}, later packets to "
             f"{(e.get('existing_flow_backend') or {}).get('name', '?')}")
        where[k] = where.get(k, 0) + 1
    check(after_drain["failures"] == 0,
          f"new connections during the drain with a full table all answer: "
          f"{after_drain['failures']} of 60 failed {after_drain['errors'][:2]}; by flow explain "
          f"{where} (ports {after_drain['failed_ports']}); counters {d_new}")
    to_drained = after_drain["per_backend"].get(drained, 0)
    check(to_drained <= d_new["new_flows_unentered_to_draining"],
          f"new connections served by drained {drained} ({to_drained}) are only SYNs that "
          f"found no room on its slots ({d_new['new_flows_unentered_to_draining']} counted): "
          f"{after_drain['per_backend']}")
    lab.stop("full-long")
    return {"kept": v["kept"], "of": conns, "resets": v["resets"] + v["timeouts"],
            "on_drained": len(on_drained), "new_failed": after_drain["failures"],
            "new_to_drained": to_drained}


def phase_drain_restart(lab):
    print("--- 3. Drain, then kill -9 and restart lb-dataplane")
    lab.apply_config(config())
    lab.wait_in_sync()
    conns = 60
    long_out = os.path.join(lab.tmp, "restart-long.json")
    # A request may wait for the restart: 10 s before it counts as failed.
    lab.client_background("restart-long", "http-long", VIP, 80, conns, 300, long_out, 10)
    state = lab.wait_long(long_out, conns, 60, f"{conns} long-lived connections to answer")
    on = {}
    for s in state:
        on[s["backends"][0]] = on.get(s["backends"][0], 0) + 1
    drained = max(on, key=on.get)
    lab.lbctl("backend", "drain", VIP_KEY, drained)
    lab.wait_in_sync()
    time.sleep(1)
    ok_before = [s["ok"] for s in read_json(long_out)]
    lab.stop_dataplane(signal.SIGKILL)
    started = time.time()
    lab.start_dataplane()
    lab.wait_in_sync(20)
    note(f"drained {drained} ({on[drained]} of {conns} connections {on}); the restarted "
         f"dataplane was in sync {time.time() - started:.1f}s after its start")
    state = wait_answered_again(lab, long_out, ok_before, 25)
    v = summarize(state, ok_before)
    on_drained = [(i, s) for i, s in enumerate(state) if s["backends"][:1] == [drained]]
    drained_kept = sum(1 for i, s in on_drained
                       if not s["failed"] and s["backends"] == [drained] and s["ok"] > ok_before[i])
    check(on_drained and drained_kept == len(on_drained),
          f"after the restart {drained_kept} of the {len(on_drained)} connections of draining "
          f"{drained} kept it and answered")
    check(v["kept"] == conns,
          f"after the restart {v['kept']} of {conns} connections kept their backend and "
          f"answered: {v} {first_errors(state)}")
    after = lab.client("http-many", VIP, 80, 60)
    check(after["failures"] == 0 and drained not in after["per_backend"],
          f"new connections after the restart avoid draining {drained}: {after['per_backend']} "
          f"({after['failures']} failed {after['errors'][:3]})")
    lab.stop("restart-long")
    return {"kept": v["kept"], "of": conns, "resets": v["resets"] + v["timeouts"],
            "on_drained": len(on_drained), "drained_kept": drained_kept}


def run(lab):
    lab.up()
    blackhole_spoofed(lab)
    lab.start_backends([VIP])
    lab.start_controlplane()
    lab.apply_config(config())
    results = {"flood": phase_flood(lab)}
    results["drain_full_table"] = phase_drain_full_table(lab)
    results["drain_restart"] = phase_drain_restart(lab)
    print("conn lifecycle results: " + json.dumps(results))


def main():
    return sluice_lab.run_lab_test("conn lifecycle e2e", "slc", sys.argv[1], run, failures)


if __name__ == "__main__":
    sys.exit(main())
