#!/usr/bin/env python3
"""The cost of Prometheus scrapes to the packet path (issue 13): lb-bench's
per-packet figure on CPU 0, with and without a scrape of the real exporter
every 100 ms on CPU 1, runs interleaved (off, on, off, on...) so that a
loaded host's drift hits both alike. The scraped lb-controlplane is attached
to a real lb-dataplane (net_null port, both lcores on CPU 1, idle) so each
scrape does all its work: reading the segment, summing, formatting.

What this cannot show: lb-bench's worker keeps its counters in its own
memory, not in the scraped segment, so the cache lines a scrape reads from a
live worker (its counter block and the configured VIPs' and backends'
counters: a handful of lines per lcore, every 100 ms) are not part of it.

Usage: scrape_cost.py BUILD_DIR [ROUNDS] [SCENARIO]
Prints one JSON line: ns/packet of each run, the medians and the difference.
"""
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench(build, scenario):
    r = subprocess.run(["taskset", "-c", "0", os.path.join(build, "tools", "lb-bench"),
                        "--no-huge", "-m", "2048", "--no-pci", "--no-shconf", "-l", "0",
                        "--file-prefix", f"scrape-cost-{os.getpid()}", "--", "--json",
                        "--quick", "--scenario", scenario],
                       capture_output=True, text=True, timeout=600)
    doc = json.loads(r.stdout)
    for fig in doc["scenarios"]:
        if fig["name"] == scenario:
            return float(fig["ns_per_packet"]["median"])
    raise RuntimeError("no ns/packet figure for " + scenario)


def main():
    build = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    scenario = sys.argv[3] if len(sys.argv) > 3 else "established-hot"
    tmp = tempfile.mkdtemp(prefix="sluice-scrape-cost-")
    inst = f"scrapecost{os.getpid()}"
    port = free_port()
    procs = []
    try:
        procs.append(subprocess.Popen(
            ["taskset", "-c", "1", os.path.join(build, "dataplane", "lb-dataplane"),
             "--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--lcores", "(0,1)@1",
             "--vdev", "net_null0", "--", "--instance", inst,
             "--next-hop-mac", "02:00:00:00:00:fe", "--outer-src-v4", "192.0.2.1",
             "--idle-backoff-us", "1000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        sock = os.path.join(tmp, "cp.sock")
        procs.append(subprocess.Popen(
            ["taskset", "-c", "1", os.path.join(build, "controlplane", "lb-controlplane"),
             "--instance", inst, "--socket", sock, "--state-file", os.path.join(tmp, "s.json"),
             "--metrics-address", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        lbctl = os.path.join(build, "tools", "lbctl", "lbctl")
        deadline = time.time() + 20
        while not os.path.exists(sock) and time.time() < deadline:
            time.sleep(0.1)
        subprocess.run([lbctl, "--socket", sock, "vip", "add", "192.0.2.10:80/tcp"], check=True,
                       capture_output=True)
        for i in range(10):
            subprocess.run([lbctl, "--socket", sock, "backend", "add", "192.0.2.10:80/tcp",
                            f"b{i}", f"198.51.100.{i + 1}"], check=True, capture_output=True)
        os.sched_setaffinity(0, {1})  # the scraper below runs on CPU 1
        url = f"http://127.0.0.1:{port}/metrics"
        size = len(urllib.request.urlopen(url, timeout=5).read())
        off, on = [], []
        for _ in range(rounds):
            off.append(bench(build, scenario))
            stop = threading.Event()
            scrapes = [0]

            def scrape():
                while not stop.is_set():
                    urllib.request.urlopen(url, timeout=5).read()
                    scrapes[0] += 1
                    stop.wait(0.1)
            t = threading.Thread(target=scrape)
            t.start()
            try:
                on.append(bench(build, scenario))
            finally:
                stop.set()
                t.join()
        m_off, m_on = statistics.median(off), statistics.median(on)
        print(json.dumps({"scenario": scenario, "scrape_bytes": size, "ns_per_packet_off": off,
                          "ns_per_packet_on": on, "median_off": m_off, "median_on": m_on,
                          "difference_ns": m_on - m_off,
                          "difference_percent": 100 * (m_on - m_off) / m_off}))
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
                p.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
