#!/usr/bin/python3
"""Two worker lcores (issue 15, DESIGN.md sections 2 and 6) on real traffic
in the namespace lab: the ingress port has one queue per worker
(net_af_packet with qpairs=2, whose sockets form a PACKET_FANOUT group that
hashes each flow to one socket), and each worker keeps its own connection
table and counters. Both workers run with the idle back-off.

Checks:
  1. 1,000 UDP flows of 4 datagrams each, all answered, each flow by one
     backend;
  2. the flows are spread over both workers, and each flow's packets were
     all seen by one worker: over the two workers' own counters there is
     exactly one connection-table miss per flow and every other packet is
     a hit (a flow split over two workers would miss on each);
  3. ICMP errors about 30 of those flows (port unreachable from the client,
     quoting the backend's answer) reach the backend that serves the flow;
     they are hashed on the quoted flow (Maglev), so the worker that takes
     them need not be the flow's own.

Usage: two_workers_test.py BUILD_DIR
"""
import json
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sluice_lab  # noqa: E402
from sluice_lab import PYTHON, backend_addr4, VIP4_UDP, CLIENT4  # noqa: E402

FLOWS, PER_FLOW, FIRST_PORT = 1000, 4, 20000
ICMP_FLOWS = 30
failures = []
check = sluice_lab.checker(failures)


def config():
    return {"vips": [{"address": VIP4_UDP, "port": 5353, "protocol": "udp", "encap": "ipip",
                      "backends": [{"name": f"be{i}", "address": backend_addr4(i)}
                                   for i in (1, 2, 3)]}]}


def per_lcore(lab):
    stats = json.loads(lab.lbctl("-o", "json", "stats").stdout)
    return [entry["counters"] for entry in stats["per_lcore"]]


def send_icmp_errors(lab, ports):
    """Port unreachable from the client to the VIP, quoting the backend's
    UDP answer (VIP:5353 -> client:port), one per port (scapy)."""
    script = (
        "import sys\n"
        "from scapy.all import IP, ICMP, UDP, Raw, send\n"
        f"vip, client = {VIP4_UDP!r}, {CLIENT4!r}\n"
        "pkts = [IP(src=client, dst=vip) / ICMP(type=3, code=3) /\n"
        "        IP(src=vip, dst=client, ttl=60) / UDP(sport=5353, dport=int(p)) / Raw(b'x' * 16)\n"
        "        for p in sys.argv[1:]]\n"
        "send(pkts, verbose=False, inter=0.01)\n")
    subprocess.run(["ip", "netns", "exec", lab.env["NS_CLIENT"], PYTHON, "-c", script,
                    *map(str, ports)], check=True, capture_output=True, timeout=60)


def run(lab):
    lab.up()
    lab.start_backends([VIP4_UDP])
    # Lcore 0 is the main lcore; workers 1 and 2 share the machine's two
    # cores with it (the back-off keeps them from starving each other).
    lab.start_dataplane(vdevs=("net_af_packet0,iface=lb0,qpairs=2",),
                        lcores=("--lcores", "0@0,1@1,2@0"))
    lab.start_controlplane()
    lab.apply_config(config())
    lab.wait_in_sync()
    status = json.loads(lab.lbctl("-o", "json", "status").stdout)
    check(status["dataplane"].get("lcores") == 2, f"two workers ({status['dataplane'].get('lcores')})")

    before = per_lcore(lab)
    r = lab.client("udp-flows", VIP4_UDP, 5353, FIRST_PORT, FLOWS, PER_FLOW, timeout=300)
    after = per_lcore(lab)
    flows = r["flows"]
    split = [p for p, f in flows.items() if len(f["backends"]) != 1]
    check(r["unanswered"] == 0 and len(flows) == FLOWS,
          f"{FLOWS} flows x {PER_FLOW} datagrams all answered ({r['unanswered']} unanswered)")
    check(not split, f"each flow answered by one backend ({len(split)} were not: {split[:5]})")

    def delta(lcore, name):
        return after[lcore][name] - before[lcore][name]

    misses = [delta(i, "conn_misses") + delta(i, "conn_misses_non_syn") for i in (0, 1)]
    hits = [delta(i, "conn_hits") for i in (0, 1)]
    rx = [delta(i, "fwd_packets") for i in (0, 1)]
    print(f"per worker: misses {misses}, hits {hits}, forwarded {rx}", flush=True)
    check(sum(misses) == FLOWS,
          f"one connection-table miss per flow over both workers ({sum(misses)} for {FLOWS}): "
          f"no flow's packets were split between workers")
    check(sum(hits) == FLOWS * (PER_FLOW - 1),
          f"every later packet hit its worker's table ({sum(hits)} of {FLOWS * (PER_FLOW - 1)})")
    check(min(misses) >= FLOWS // 10,
          f"the flows are spread over both workers ({misses[0]} / {misses[1]})")

    # ICMP errors about flows reach the flow's backend.
    chosen = sorted(flows)[:ICMP_FLOWS]
    want = {}
    for port in chosen:
        name = flows[port]["backends"][0]
        want[name] = want.get(name, 0) + 1
    # On a backend, the error arrives encapsulated (tcpdump sees packets
    # before the tc program decapsulates them) or already decapsulated
    # (XDP decapsulation): either way an ICMP packet to the VIP.
    for i in (1, 2, 3):
        lab.spawn(f"capture{i}", [
            "ip", "netns", "exec", lab.ns_backend(i), "tcpdump", "-n", "-l", "-i", "eth0",
            f"(ip proto 4 and ip[29] = 1) or (icmp and dst host {VIP4_UDP})"])
    lab.wait_for(lambda: all("listening on" in lab.read_log(f"capture{i}") for i in (1, 2, 3)),
                 10, "tcpdump on every backend")
    total_before = sum(c["fwd_icmp_errors"] for c in per_lcore(lab))
    send_icmp_errors(lab, chosen)
    lab.wait_for(lambda: sum(c["fwd_icmp_errors"] for c in per_lcore(lab)) - total_before
                 >= ICMP_FLOWS, 10, "the ICMP errors to be forwarded")
    got = {}
    for i in (1, 2, 3):
        lab.stop(f"capture{i}", signal.SIGINT)
        m = re.search(r"(\d+) packets captured", lab.read_log(f"capture{i}"))
        if m and int(m.group(1)):
            got[f"be{i}"] = int(m.group(1))
    check(got == want, f"each ICMP error reached its flow's backend: got {got}, want {want}")


def main():
    return sluice_lab.run_lab_test("two workers", "slw", sys.argv[1], run, failures)


if __name__ == "__main__":
    sys.exit(main())
