#!/usr/bin/python3
"""A benchmark, not a test: the forwarding rate through the Sluice host's
port in the namespace lab (scripts/topology), net_af_xdp with Sluice's
steering program against net_af_packet on the same veth lb0.

For each mode it builds the lab, starts lb-dataplane (one worker), the
control plane and one UDP VIP, lets tests/bench/udp_flood (built next to
this script in the build tree) send 64-byte frames from the client through
the router to the VIP for SECONDS, and reads the dataplane's counters
(lbctl stats) at the start and end of a timed window inside the flood:
packets/s received by the worker and encapsulated toward the backends
(fwd_packets), what the sender managed, and for AF_XDP the program's
redirects. The backends run no lb-backend and no server: their kernels drop
the tunnelled datagrams, so the lab's two CPUs go to the path under test
(sender, router, the Sluice host's port, the dataplane) and the rate is the
dataplane's, not a UDP server's. On a shared 2-core host the figures move
by 20% or more from run to run: run the modes alternately, several times.

Usage: port_rate.py BUILD_DIR [--seconds S] [--flows N] [--modes af_xdp,af_packet]
Needs root, namespaces, veth, XDP and AF_XDP. Every process it starts is
ended by PID and the namespaces are removed, also on failure.
"""
import argparse
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import sluice_lab  # noqa: E402
from sluice_lab import VIP4_UDP, backend_addr4  # noqa: E402

MODES = {
    "af_xdp": ("net_af_xdp0,iface=lb0", ("--xdp-steering",)),
    "af_packet": ("net_af_packet0,iface=lb0", ()),
}
PORT = 9  # discard: nothing answers


def config():
    return {"vips": [{"address": VIP4_UDP, "port": PORT, "protocol": "udp", "encap": "ipip",
                      "backends": [{"name": f"be{i}", "address": backend_addr4(i), "weight": 1}
                                   for i in (1, 2, 3)]}]}


def stats(lab):
    s = json.loads(lab.lbctl("-o", "json", "stats").stdout)
    xdp = s.get("xdp") or [{}]
    return s["counters"], xdp[0], s["at_ns"]


def measure(build, mode, seconds, flows):
    vdev, extra = MODES[mode]
    flood = os.path.join(os.path.abspath(build), "tests", "bench", "udp_flood")
    with sluice_lab.Lab(build, f"prt{os.getpid() % 100000}") as lab:
        lab.up()
        # Busy polling (no idle back-off): the rate, not the CPU, is measured.
        lab.start_dataplane(vdevs=(vdev,), extra=extra, idle_backoff_us=0)
        lab.start_controlplane()
        lab.apply_config(config())
        lab.wait_in_sync()
        result = {}

        def send():
            out = lab.ns_run(lab.env["NS_CLIENT"], [flood, VIP4_UDP, str(PORT), str(seconds),
                                                    str(flows)])
            result.update(json.loads(out))

        sender = threading.Thread(target=send)
        sender.start()
        # The window: from a second in to a second before the end.
        time.sleep(1)
        c0, x0, t0 = stats(lab)
        time.sleep(max(1.0, seconds - 2))
        c1, x1, t1 = stats(lab)
        sender.join(timeout=seconds + 30)
        window = (t1 - t0) / 1e9
        rate = {k: (c1[k] - c0[k]) / window for k in ("rx_packets", "fwd_packets")}
        out = {"mode": mode, "window_s": round(window, 2),
               "rx_pps": round(rate["rx_packets"]), "fwd_pps": round(rate["fwd_packets"]),
               "sender_pps": round(result.get("sent", 0) / max(result.get("seconds", 1), 1e-9)),
               "drops_tx_full": c1["drop_tx_full"] - c0["drop_tx_full"]}
        if x1:
            out["xdp_redirected_pps"] = round((x1["redirected"] - x0["redirected"]) / window)
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--flows", type=int, default=8)
    ap.add_argument("--modes", default="af_xdp,af_packet")
    a = ap.parse_args()
    problem = sluice_lab.capability_problem()
    if problem:
        print(f"port_rate: {problem}")
        return 1
    if not 3 <= a.seconds <= 120:
        print("port_rate: --seconds must be in [3, 120]")
        return 2
    for mode in a.modes.split(","):
        if mode not in MODES:
            print(f"port_rate: unknown mode {mode} (known: {', '.join(MODES)})")
            return 2
        print(json.dumps(measure(a.build, mode, a.seconds, a.flows)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
