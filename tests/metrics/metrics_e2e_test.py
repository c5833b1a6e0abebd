#!/usr/bin/env python3
"""Metrics end to end (issue 13, DESIGN.md section 9): the real lb-dataplane
and lb-controlplane in the namespace lab, a real Prometheus server scraping
the exporter every second while known frames arrive, and the numbers checked
exactly:

- a burst of N UDP packets to a VIP: the VIP's packets are exactly N in
  lbctl and in Prometheus (read back through its HTTP API);
- frames crafted for each drop reason the lab can provoke: each appears
  under its own `reason` label with exactly the count sent; every reason of
  the counter list has a series. Not provoked here: IPv4 fragments
  (net_af_packet's fanout socket has the kernel reassemble them first, so
  a lone fragment never arrives; tests/fixtures covers the counter), the
  ICMP rate limit, mbuf headroom and a full TX queue;
- the arithmetic: received = forwarded + replied + not-for-us + every drop
  reason, per lcore and in total, and transmitted + TX-full drops =
  forwarded + replied; `lbctl stats`, `lbctl -o json stats` and /metrics
  agree exactly on every counter;
- `promtool check metrics` passes on the exporter's output, and every metric
  name the Grafana dashboard's queries use exists in it;
- the audit log has one line per change made, with the uid of the client.

Usage: metrics_e2e_test.py BUILD_DIR
"""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
sys.path.insert(0, HERE)
from sluice_lab import Lab, PYTHON  # noqa: E402
from prom_server import Prometheus, free_port  # noqa: E402
import metrics_text  # noqa: E402

BURST = 300
COUNT = 3
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def require_capabilities():
    missing = []
    if os.geteuid() != 0:
        missing.append("root")
    for tool in ("/usr/bin/prometheus", "/usr/bin/promtool"):
        if not os.access(tool, os.X_OK):
            missing.append(tool)
    if subprocess.run([PYTHON, "-c", "import scapy.all"], capture_output=True).returncode != 0:
        missing.append("scapy for /usr/bin/python3")
    if missing:
        msg = "metrics_e2e needs " + ", ".join(missing)
        if os.environ.get("CI") == "true":
            print("FAIL " + msg)
            sys.exit(1)
        print("SKIP " + msg)
        sys.exit(77)


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def stats(lab):
    return json.loads(lab.lbctl("-o", "json", "stats").stdout)


# What a received packet can become: exactly one of these per packet. The
# list is the counter list's (common/counters.h): every drop reason, and
# the outcomes that are not drops. drop_tx_full is not one: it counts
# packets already counted as forwarded or replied whose TX failed.
NOT_DROPS = ["fwd_packets", "fwd_icmp_errors", "icmp_echo_replies", "icmp_too_big_sent",
             "not_for_us", "not_our_mac", "not_our_mac_group"]
SENT_OUT = ["fwd_packets", "fwd_icmp_errors", "icmp_echo_replies", "icmp_too_big_sent"]


def outcomes(counters):
    return NOT_DROPS + [n for n in counters if n.startswith("drop_") and n != "drop_tx_full"]


def arithmetic(counters, where):
    parts = outcomes(counters)
    total = sum(counters[n] for n in parts)
    check(counters["rx_packets"] == total,
          f"{where}: rx_packets {counters['rx_packets']} = sum of {len(parts)} outcomes {total}")
    sent = sum(counters[n] for n in SENT_OUT)
    check(counters["tx_packets"] + counters["drop_tx_full"] == sent,
          f"{where}: tx_packets + drop_tx_full = forwarded + replied ({sent})")


def quiescent(lab, seconds=1.0, tries=20):
    """Two stats reads `seconds` apart with the same rx_packets."""
    last = stats(lab)
    for _ in range(tries):
        time.sleep(seconds)
        now = stats(lab)
        if now["counters"]["rx_packets"] == last["counters"]["rx_packets"]:
            return now
        last = now
    raise TimeoutError("the dataplane kept receiving packets")


def agreement(lab, port):
    """lbctl table, lbctl JSON and /metrics read in a quiet moment agree on
    every counter of the list (retried if a stray frame arrived between).
    The worker loop's own counters (passes, busy time) move on every pass
    of an idle worker: for them the /metrics value lies between the two
    lbctl reads around it."""
    for _ in range(10):
        before = stats(lab)
        table = lab.lbctl("stats").stdout
        text = scrape(port)
        after = stats(lab)
        loop = {n for n in after["counters"] if n.startswith("worker_")}
        if any(before["counters"][n] != v for n, v in after["counters"].items() if n not in loop):
            time.sleep(0.5)
            continue
        counters = after["counters"]
        rows = dict(re.findall(r"(?m)^([a-z][a-z0-9_]*) +(\d+)$", table))
        check(all(int(rows.get(n, -1)) == v for n, v in counters.items() if n not in loop),
              "lbctl stats (table) shows every counter with the JSON's value")
        samples = metrics_text.parse(text)
        mismatched = []
        for name, value in counters.items():
            metric, labels, scale = metrics_text.counter_series(name)
            got = samples.get((metric, labels))
            hz = after["tsc_hz"] if scale else 1
            lo, hi = before["counters"][name] / hz, value / hz
            if got is None or not (lo - 1e-6 <= got <= hi + 1e-6):
                mismatched.append(f"{name}: /metrics {got} vs lbctl {lo}..{hi}")
            elif name not in loop and got != hi:
                mismatched.append(f"{name}: /metrics {got} vs lbctl {hi}")
        check(not mismatched, "/metrics agrees with lbctl -o json stats on every counter: "
              + "; ".join(mismatched[:5]))
        return after, text
    raise RuntimeError("no quiet moment to compare lbctl and /metrics")


def main():
    require_capabilities()
    build = sys.argv[1]
    metrics_port = free_port()
    with Lab(build, "mx", backends=2) as lab:
        audit = os.path.join(lab.tmp, "audit.log")
        lab.up()
        lab.start_dataplane()
        lab.start_controlplane(["--metrics-address", f"127.0.0.1:{metrics_port}",
                                "--audit-log", audit])

        def attached():
            s = json.loads(lab.lbctl("-o", "json", "status").stdout)
            return s["dataplane"].get("attached")
        lab.wait_for(attached, 20, "the control plane to attach to the dataplane")
        changes = [
            ("vip", "add", "192.0.2.12:53/udp"),
            ("backend", "add", "192.0.2.12:53/udp", "u1", "198.51.100.131"),
            ("backend", "add", "192.0.2.12:53/udp", "u2", "198.51.100.132"),
            ("vip", "add", "192.0.2.13:53/udp"),
            ("vip", "add", "[2001:db8::12]:53/udp"),
            ("backend", "add", "[2001:db8::12]:53/udp", "v1", "2001:db8:b::101"),
            ("backend", "set-weight", "192.0.2.12:53/udp", "u2", "2"),
        ]
        for c in changes:
            lab.lbctl(*c)
        lab.wait_in_sync()

        with Prometheus(f"127.0.0.1:{metrics_port}") as prom:
            lab.wait_for(lambda: prom.targets_up() == ["up"], 20, "Prometheus to scrape Sluice")
            base = quiescent(lab)["counters"]
            lb_mac = lab.ns_run(lab.env["NS_LB"], ["cat", "/sys/class/net/lb0/address"]).strip()
            router_mac = lab.env["ROUTER_MAC_TO_LB"]
            r = subprocess.run(["ip", "netns", "exec", lab.env["NS_ROUTER"], PYTHON,
                                os.path.join(HERE, "send_frames.py"), "rl0", lb_mac, router_mac,
                                str(BURST), str(COUNT)],
                               capture_output=True, text=True, timeout=120)
            check(r.returncode == 0, "frames sent: " + r.stderr.strip()[-300:])
            sent = json.loads(r.stdout)
            now = quiescent(lab)
            counters = now["counters"]
            print("deltas: " + json.dumps({n: counters[n] - base[n] for n in counters
                                           if counters[n] != base[n] and
                                           not n.startswith("worker_")}))
            for name, n in sent["frames"].items():
                delta = counters[name] - base[name]
                # A kernel's own multicast / other-MAC frames may add to
                # these two; everything else only comes from us.
                ok = delta >= n if name.startswith("not_our_mac") else delta == n
                check(ok, f"{name}: +{delta} for {n} frames sent")
            vip = next(v for v in now["vips"] if v["key"] == "192.0.2.12:53/udp")
            check(vip["packets"] == BURST,
                  f"VIP 192.0.2.12:53/udp forwarded exactly the burst: {vip['packets']} == {BURST}")
            check(sum(b["packets"] for b in vip["backends"]) == BURST,
                  "its backends' packets add up to the burst")
            # The burst's flows, and the one too-big-without-DF packet's flow
            # (placed, then dropped for its size); the others are dropped
            # before a backend is picked.
            check(vip["new_flows"] == BURST + 1,
                  f"one new flow per burst packet, plus the too-big one: {vip['new_flows']}")

            arithmetic(counters, "total")
            for lc in now["per_lcore"]:
                arithmetic(lc["counters"], f"lcore {lc['lcore']}")
            check(all(sum(lc["counters"][n] for lc in now["per_lcore"]) == v
                      for n, v in counters.items()), "per-lcore counters add up to the totals")

            final, text = agreement(lab, metrics_port)

            # Prometheus read back through its HTTP API, after a scrape that
            # saw the final values.
            def prom_has_final():
                got = prom.query('sluice_vip_packets_total{vip="192.0.2.12:53/udp"}')
                rx = prom.query("sluice_rx_packets_total")
                return (list(got.values()) == [float(BURST)] and
                        list(rx.values()) == [float(final["counters"]["rx_packets"])])
            lab.wait_for(prom_has_final, 20, "Prometheus to scrape the final counters")
            check(True, f"Prometheus has sluice_vip_packets_total == {BURST} and the final rx")
            drops = prom.query("sluice_packets_dropped_total")
            by_reason = {dict(k)["reason"]: v for k, v in drops.items()}
            reasons = [n[5:] for n in final["counters"] if n.startswith("drop_")]
            check(sorted(by_reason) == sorted(reasons),
                  f"Prometheus has a series for each of the {len(reasons)} drop reasons")
            for name in sent["frames"]:
                if name.startswith("drop_"):
                    check(by_reason.get(name[5:]) == float(final["counters"][name]),
                          f"Prometheus {name[5:]} = {by_reason.get(name[5:])} "
                          f"(lbctl {final['counters'][name]}, {COUNT} sent)")
            # Per VIP: the drops that happen once the VIP is known, by
            # reason; over all VIPs they add up to the totals, and lbctl's
            # per-VIP JSON says the same.
            per_vip = prom.query("sluice_vip_packets_dropped_total")
            vip_sum = {}
            for k, v in per_vip.items():
                vip_sum[dict(k)["reason"]] = vip_sum.get(dict(k)["reason"], 0) + v
            lbctl_sum = {}
            for vip in final["vips"]:
                for name, n in vip["drops"].items():
                    lbctl_sum[name[5:]] = lbctl_sum.get(name[5:], 0) + n
            check(vip_sum == {r: float(n) for r, n in lbctl_sum.items()},
                  f"per-VIP drops: Prometheus and lbctl -o json stats agree: {lbctl_sum}")
            # Some reasons also happen with no VIP known (an echo request
            # to a VIP's address, an ICMP error quoting no VIP flow, TTL 1 on
            # an ICMP error): per VIP they add up to at most the total; the
            # others only ever happen to a VIP.
            always_a_vip = ("no_backend", "too_big", "too_big_may_fragment")
            for name in sent["frames"]:
                r = name[5:]
                if name.startswith("drop_") and r in vip_sum:
                    total = float(final["counters"][name])
                    ok = vip_sum[r] == total if r in always_a_vip else vip_sum[r] <= total
                    check(ok, f"per-VIP {r} adds up to {'' if r in always_a_vip else 'at most '}"
                              f"the total: {vip_sum[r]} vs {total}")
            check(any(v > 0 for v in vip_sum.values()),
                  f"some VIP drops counted per VIP: {vip_sum}")
            busy = prom.query("sluice_lcore_busy_ratio")
            check(len(busy) == final["lcores"] and all(0 <= v <= 1 for v in busy.values()),
                  f"a busy ratio per lcore in [0, 1]: {sorted(busy.values())}")
            missed = prom.query("sluice_port_missed_packets_total")
            check(len(missed) == 1, "port statistics exported (missed packets)")
            backends = prom.query('sluice_backend_maglev_slots{vip="192.0.2.12:53/udp"}')
            check(sum(backends.values()) == 65537 and len(backends) == 2,
                  f"Maglev slots of the VIP's backends add up to its table: {backends}")
            apply = prom.query("sluice_table_apply_duration_seconds_count")
            check(sum(apply.values()) >= len(changes),
                  f"apply latency histogram observed every push: {apply}")
            ops = prom.query('sluice_api_requests_total{op="stats",outcome="ok"}')
            check(sum(ops.values()) > 0, "control API requests counted by op and outcome")

            path = os.path.join(lab.tmp, "metrics.txt")
            with open(path, "w") as f:
                f.write(text)
            pc = subprocess.run(["promtool", "check", "metrics"], input=text,
                                capture_output=True, text=True)
            check(pc.returncode == 0, "promtool check metrics passes: " + pc.stdout + pc.stderr)

            with open(os.path.join(ROOT, "docs", "grafana", "sluice-dashboard.json")) as f:
                dash = json.load(f)
            exported = metrics_text.names(text)
            used = metrics_text.dashboard_metric_names(dash)
            check(used and not (used - exported),
                  f"every one of the dashboard's {len(used)} metrics is exported: missing "
                  f"{sorted(used - exported)}")

        with open(audit) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        ops = [line["op"] for line in lines]
        want = ["vip.add", "backend.add", "backend.add", "vip.add", "vip.add", "backend.add",
                "backend.set"]
        check(ops == want, f"one audit line per change, in order: {ops}")
        check(all(line["uid"] == os.geteuid() for line in lines), "each names the client's uid")
        last = lines[-1]
        check(last["before"]["weight"] == 1 and last["after"]["weight"] == 2,
              "backend.set's line has the weight before and after")
        check(lines[0]["before"] is None and lines[0]["after"]["key"] == "192.0.2.12:53/udp",
              "vip.add's line: nothing before, the VIP after")
        check(all(isinstance(line["generation"], int) for line in lines),
              "each names the generation the dataplane acknowledged")
        log = json.loads(lab.lbctl("-o", "json", "log", "-n", "3").stdout)
        check([e["entry"]["op"] for e in log["entries"]] == want[-3:],
              "lbctl log -n 3 shows the last three")

    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all metrics checks passed")


if __name__ == "__main__":
    main()
