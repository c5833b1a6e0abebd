#!/usr/bin/python3
"""A benchmark, not a test: the control path end to end with the real
processes (lb-dataplane on a net_null port, lb-controlplane, the control
API socket), at 4,096 VIPs x 10 backends (Maglev M=65537).

Reports:
- the apply of all 4,096 VIPs in one config.apply: time to the answer, and
  the oldest heartbeat seen while it ran;
- one backend's state change at that scale: request-to-answer p50/p99 over
  200 sequential changes;
- 1,000 single-backend state flips spread over the 4,096 VIPs, sent at once
  on 1,000 connections: the time until all are answered, the rate, and the
  number of transactions they were coalesced into.

Usage: control_burst.py BUILD_DIR [--table-size M]
Needs no root; ends every process it starts by PID.
"""
import json
import os
import selectors
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "controlplane"))
import control_path_scale_test as lab_mod  # noqa: E402
from cp_client import call, start_controlplane, wait_for_socket, wait_until  # noqa: E402


def vip_key_of(v):
    """The key of VIP number v of control_path_scale_test.config()."""
    a, b = divmod(v, 256)
    address = f"[2001:db8:{a:x}::{b:x}]" if v % 2 else f"192.0.2.{b}"
    return f"{address}:{1000 + a * 2 + (v % 2)}/tcp"


def main():
    build = sys.argv[1]
    table_size = int(sys.argv[sys.argv.index("--table-size") + 1]) if "--table-size" in sys.argv else 65537
    lab = lab_mod.Lab(os.path.join(build, "controlplane/lb-controlplane"),
                      os.path.join(build, "dataplane/lb-dataplane"),
                      os.path.join(build, "tools/lbctl/lbctl"))
    try:
        lab.start_dataplane("--table-memory-mb", "4096")
        lab.cp = start_controlplane(
            lab.cp_bin, ["--instance", lab.instance, "--socket", lab.sock,
                         "--state-file", os.path.join(lab.tmp, "state.json"),
                         "--max-clients", "2000"],
            os.path.join(lab.tmp, "controlplane.log"))
        wait_for_socket(lab.sock, lab.cp)
        wait_until(lambda: lab.status()["dataplane"].get("attached") is True, 10)

        cfg = lab_mod.config(4096, table_size=table_size)
        seen = {"polls": 0, "not_attached": 0, "max_heartbeat_ms": 0, "building": []}
        start = time.monotonic()
        proc = lab_mod.background(lab, cfg)
        lab.watch_while(proc, seen)
        out, err = proc.communicate()
        took = time.monotonic() - start
        print(f"apply of 4096 VIPs x 10 backends, M={table_size}: {took:.2f} s end to end "
              f"(exit {proc.returncode}); oldest heartbeat seen {seen['max_heartbeat_ms']} ms; "
              f"not attached seen {seen['not_attached']} times", flush=True)
        assert wait_until(lab.in_sync, 60)

        lat = []
        for i in range(200):
            v = (i * 2654435761) % 4096
            vip_key = vip_key_of(v)
            t0 = time.monotonic()
            a = call(lab.sock, {"op": "backend.set", "vip": vip_key, "name": f"be-{v}-{i % 10}",
                                "state": "draining" if i % 4 < 2 else "active"})
            lat.append((time.monotonic() - t0) * 1e3)
            assert a["ok"], a
        lat.sort()
        print(f"one backend's state change at 4096 VIPs, request to answer: p50 "
              f"{statistics.median(lat):.2f} ms, p99 {lat[int(len(lat) * 0.99) - 1]:.2f} ms "
              f"over {len(lat)} changes", flush=True)

        before = lab.status()["controlplane"]
        socks = []
        for i in range(1000):
            v = (i * 40503) % 4096
            vip_key = vip_key_of(v)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(lab.sock)
            req = json.dumps({"op": "backend.set", "vip": vip_key, "name": f"be-{v}-{i % 10}",
                              "state": "disabled" if i % 2 else "draining"}) + "\n"
            socks.append((s, req.encode()))
        sel = selectors.DefaultSelector()
        t0 = time.monotonic()
        for s, req in socks:
            s.sendall(req)
            sel.register(s, selectors.EVENT_READ)
        answered, ok = 0, 0
        bufs = {}
        while answered < len(socks) and time.monotonic() - t0 < 300:
            for key, _ in sel.select(timeout=1):
                s = key.fileobj
                data = s.recv(65536)
                bufs[s] = bufs.get(s, b"") + data
                if b"\n" in bufs[s] or not data:
                    sel.unregister(s)
                    answered += 1
                    if data and json.loads(bufs[s].split(b"\n")[0]).get("ok"):
                        ok += 1
        took = time.monotonic() - t0
        after = lab.status()["controlplane"]
        txns = after["transactions_pushed"] - before["transactions_pushed"]
        changes = after["changes_pushed"] - before["changes_pushed"]
        print(f"1000 single-backend state flips over 4096 VIPs on 1000 connections: {ok} applied "
              f"of {answered} answered in {took:.2f} s ({answered / took:.0f} changes/s); "
              f"{changes} changes in {txns} transactions", flush=True)
        for s, _ in socks:
            s.close()
        s = lab.status()
        print(f"in sync: {s['controlplane']['in_sync']}, digests "
              f"{s['dataplane']['config_digest']} / {s['controlplane']['config_digest']}")
    finally:
        lab.cleanup()


if __name__ == "__main__":
    main()
