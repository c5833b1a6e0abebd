#!/usr/bin/python3
"""Health checking end to end (README, "Health checking"; issue 12): the real
lb-dataplane, lb-controlplane (in the Sluice host's namespace, with the
tunnel probe's tc program on lb0), lb-backend and real servers in the
namespace lab (scripts/topology).

Cases, in one lab to keep the run short:
  1. every kind passes: http (direct), tcp through the tunnel, udp, https
     against openssl s_server with a certificate made here;
  2. HTTP server stopped on be2: removed within interval x fall + 1 s, no
     new connection to it and no failed request after; started again: back
     after rise passes (detection and recovery times are printed);
  3. the VIP removed from be1's lo: the tunnel probe fails, the direct probe
     of the same backend still passes;
  4. be3 blackholed (its link down): detected by timeout;
  5. cap 100%: both backends of a VIP down, the VIP's no-backend behaviour
     (drop_no_backend), and recovery when one returns;
  6. kill -9 and restart of lb-controlplane while be2 is down: be2 is
     unknown first, then unhealthy and out; no healthy backend is removed.
Every transition must be one audit line.

Usage: health_e2e_test.py BUILD_DIR
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sluice_lab  # noqa: E402
from sluice_lab import Lab, PYTHON, E2E  # noqa: E402

VIP_HTTP = "192.0.2.10"    # http check, direct
VIP_TUN = "192.0.2.11"     # tcp check through the tunnel
VIP_UDP = "192.0.2.12"     # udp check
VIP_TLS = "192.0.2.13"     # https check
VIP_ALL = "192.0.2.14"     # cap 100%
INTERVAL_MS, TIMEOUT_MS, RISE, FALL = 500, 300, 2, 3
failures = []


def scrape_metrics(lab, ns):
    """/metrics of the control plane running in namespace `ns`, on the port
    its log names."""
    try:
        with open(os.path.join(lab.tmp, "controlplane.log")) as f:
            log = f.read()
    except OSError:
        log = ""
    ports = re.findall(r"metrics on http://127\.0\.0\.1:0/metrics \(port (\d+)\)", log)
    m = re.match(r"(\d+)", ports[-1]) if ports else None
    if not m:
        return ""
    r = subprocess.run(["ip", "netns", "exec", ns, "curl", "-s", "--max-time", "5",
                        f"http://127.0.0.1:{m.group(1)}/metrics"],
                       capture_output=True, text=True, timeout=10)
    return r.stdout


check = sluice_lab.checker(failures)


def backends(lab, vip):
    r = lab.lbctl("-o", "json", "backend", "list", vip)
    return {b["name"]: b for b in json.loads(r.stdout)["backends"]}


def wait_health(lab, vip, name, want, seconds, removed=None):
    """Polls every 50 ms; returns the seconds it took, or None."""
    start = time.time()
    while time.time() - start < seconds:
        b = backends(lab, vip).get(name, {})
        if b.get("health") == want and (removed is None or b.get("health_removed") == removed):
            return time.time() - start
        time.sleep(0.05)
    return None


def config():
    def be(names, **extra):
        return [{"name": n, "address": sluice_lab.backend_addr4(int(n[2:])), **extra}
                for n in names]
    timing = {"interval_ms": INTERVAL_MS, "timeout_ms": TIMEOUT_MS, "rise": RISE, "fall": FALL}
    return {"vips": [
        {"address": VIP_HTTP, "port": 80, "protocol": "tcp",
         "health": {"kind": "http", "path": "/", "expect_body": "backend", **timing},
         "backends": be(["be1", "be2", "be3"])},
        {"address": VIP_TUN, "port": 80, "protocol": "tcp", "encap": "ipip",
         "health": {"kind": "tcp", "tunnel": True, **timing},
         "backends": be(["be1", "be2"])},
        {"address": VIP_UDP, "port": 5353, "protocol": "udp",
         "health": {"kind": "udp", "payload": "health?", "expect": "backend", **timing},
         "backends": be(["be1", "be2", "be3"])},
        {"address": VIP_TLS, "port": 8443, "protocol": "tcp",
         "health": {"kind": "https", "path": "/", **timing},
         "backends": be(["be3"])},
        {"address": VIP_ALL, "port": 8080, "protocol": "tcp",
         "health": {"kind": "http", "max_unhealthy_percent": 100, **timing},
         "backends": be(["be1", "be2"])},
    ]}


def audit_lines(lab):
    try:
        with open(os.path.join(lab.tmp, "audit.log")) as f:
            return [json.loads(line) for line in f if '"op":"health"' in line.replace(" ", "")]
    except OSError:
        return []


def counters(lab):
    return json.loads(lab.lbctl("-o", "json", "stats").stdout).get("counters", {})


def main():
    build = sys.argv[1]
    if os.geteuid() != 0:
        msg = "health_e2e needs root (namespaces, XDP, tc BPF)"
        if os.environ.get("CI") == "true":
            print("FAIL " + msg)
            return 1
        print("SKIP " + msg)
        return 77
    with Lab(build, "hc") as lab:
        lab.up()
        ns_lb = lab.env["NS_LB"]
        # The probing host: kernel-made packets carry full checksums (the
        # tunnel hides them from veth's offload), replies from the VIP are
        # accepted (loose reverse-path check).
        lab.ns_run(ns_lb, ["ethtool", "-K", "lb0", "tx", "off"])
        lab.ns_run(ns_lb, ["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=2",
                           "net.ipv4.conf.lb0.rp_filter=2"])
        lab.start_backends([VIP_HTTP, VIP_TUN, VIP_UDP, VIP_TLS, VIP_ALL])
        # HTTPS: a real TLS server with a self-signed certificate made now.
        cert, key = os.path.join(lab.tmp, "cert.pem"), os.path.join(lab.tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=backend.example", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        lab.spawn("tls3", ["ip", "netns", "exec", lab.ns_backend(3), "openssl", "s_server",
                           "-quiet", "-accept", "8443", "-cert", cert, "-key", key, "-www"])
        for i in (1, 2):
            lab.spawn(f"alt{i}", ["ip", "netns", "exec", lab.ns_backend(i), PYTHON,
                                  os.path.join(E2E, "backend_server.py"), f"be{i}",
                                  "--http-port", "8080", "--udp-port", "5399"])
        lab.start_dataplane()
        audit = os.path.join(lab.tmp, "audit.log")
        # The metrics on a port the kernel picks, in the Sluice host's namespace.
        cp_args = ["--health-tunnel-iface", "lb0", "--audit-log", audit,
                   "--metrics-address", "127.0.0.1:0"]
        lab.start_controlplane(netns=ns_lb, extra=cp_args)
        lab.apply_config(config())
        lab.wait_in_sync()

        # 1. Every kind passes.
        ok = True
        for vip, names in ((f"{VIP_HTTP}:80/tcp", ["be1", "be2", "be3"]),
                           (f"{VIP_TUN}:80/tcp", ["be1", "be2"]),
                           (f"{VIP_UDP}:5353/udp", ["be1", "be2", "be3"]),
                           (f"{VIP_TLS}:8443/tcp", ["be3"]),
                           (f"{VIP_ALL}:8080/tcp", ["be1", "be2"])):
            for n in names:
                t = wait_health(lab, vip, n, "healthy", 10)
                ok = ok and t is not None
                check(t is not None, f"{vip} {n} healthy ({backends(lab, vip)[n].get('last_probe_result')})")
        tls = backends(lab, f"{VIP_TLS}:8443/tcp")["be3"]
        check(tls.get("last_probe_result") == "HTTP 200", "https probe of a real TLS server: HTTP 200")
        check(len(audit_lines(lab)) >= 11, "transitions unknown -> healthy are audit lines")

        # 2. HTTP server stopped on be2: removal, no failures, return.
        vip = f"{VIP_HTTP}:80/tcp"
        lab.stop("server2", signal.SIGKILL)
        t0 = time.time()
        detect = wait_health(lab, vip, "be2", "unhealthy", 10, removed=True)
        limit = INTERVAL_MS * FALL / 1000 + 1
        check(detect is not None and detect <= limit,
              f"be2 removed {detect and round(detect, 2)} s after its server stopped "
              f"(limit interval x fall + 1 s = {limit} s)")
        r = lab.client("http-many", VIP_HTTP, 80, 60)
        check(r["failures"] == 0 and "be2" not in r["per_backend"],
              f"after removal: 60 requests, none failed, none to be2 ({r['per_backend']})")
        # The same in the metrics: be2's verdict and removal, the transition,
        # the failed probes and their latency.
        text = scrape_metrics(lab, ns_lb)
        def value(pattern):
            m = re.search(r"(?m)^" + pattern + r" (\S+)$", text)
            return float(m.group(1)) if m else None

        def series(name, **labels):
            """The value of `name` with exactly these labels, in any order."""
            for line in text.splitlines():
                m = re.match(r"^" + name + r"\{(.*)\} (\S+)$", line)
                if m and dict(re.findall(r'(\w+)="([^"]*)"', m.group(1))) == labels:
                    return float(m.group(2))
            return None
        be2_lines = [ln for ln in text.splitlines() if 'backend="be2"' in ln and "health" in ln]
        check(series("sluice_backend_health", backend="be2", vip=vip, state="unhealthy") == 1 and
              series("sluice_backend_health", backend="be2", vip=vip, state="healthy") == 0 and
              series("sluice_backend_health_removed", backend="be2", vip=vip) == 1,
              f"metrics: sluice_backend_health says be2 is unhealthy, and removed {be2_lines[:4]}")
        check((value(r'sluice_health_transitions_total\{to="unhealthy"\}') or 0) >= 1 and
              (value(r'sluice_health_probes_total\{outcome="failed"\}') or 0) >= FALL and
              (value(r'sluice_health_probes_total\{outcome="ok"\}') or 0) > 0 and
              (value(r"sluice_health_probe_duration_seconds_count") or 0) > 0,
              "metrics: transitions, probe outcomes and the probe latency histogram counted")
        lab.spawn("server2", ["ip", "netns", "exec", lab.ns_backend(2), PYTHON,
                              os.path.join(E2E, "backend_server.py"), "be2"])
        t1 = time.time()
        back = wait_health(lab, vip, "be2", "healthy", 10, removed=False)
        check(back is not None and back <= INTERVAL_MS * (RISE + 1) / 1000 + 1,
              f"be2 back {back and round(back, 2)} s after its server started (rise {RISE})")
        r = lab.client("http-many", VIP_HTTP, 80, 60)
        check(r["failures"] == 0 and r["per_backend"].get("be2", 0) > 0,
              f"be2 takes new connections again ({r['per_backend']})")
        lines = [a for a in audit_lines(lab) if a.get("vip") == vip and a.get("backend") == "be2"]
        check(any(a["from"] == "healthy" and a["to"] == "unhealthy" for a in lines) and
              any(a["from"] == "unhealthy" and a["to"] == "healthy" for a in lines) and
              all({"time", "last_probe_result", "last_probe_latency_ms"} <= a.keys() for a in lines),
              "be2's transitions are audit lines with time, result and latency")
        print(f"MEASURED detection_s={detect and round(detect, 2)} recovery_s={back and round(back, 2)} "
              f"(interval {INTERVAL_MS} ms, fall {FALL}, rise {RISE}; t0 {round(t1 - t0, 1)} s apart)")

        # 3. VIP removed from be1's lo: the tunnel probe fails, the direct one passes.
        lab.ns_run(lab.ns_backend(1), ["ip", "addr", "del", f"{VIP_TUN}/32", "dev", "lo"])
        t = wait_health(lab, f"{VIP_TUN}:80/tcp", "be1", "unhealthy", 10)
        check(t is not None, f"tunnel probe marks be1 down without the VIP on its lo "
                             f"({backends(lab, f'{VIP_TUN}:80/tcp')['be1'].get('last_probe_result')})")
        check(backends(lab, vip)["be1"].get("health") == "healthy",
              "the direct probe of be1 still passes")
        lab.ns_run(lab.ns_backend(1), ["ip", "addr", "add", f"{VIP_TUN}/32", "dev", "lo"])

        # 4. be3 blackholed: detected by timeout (the https VIP's only backend
        #    is held in by the cap: degraded).
        lab.ns_run(lab.ns_backend(3), ["ip", "link", "set", "eth0", "down"])
        t = wait_health(lab, vip, "be3", "unhealthy", 10)
        res = backends(lab, vip)["be3"].get("last_probe_result", "")
        check(t is not None and "timeout" in res.lower(), f"blackholed be3 detected by timeout ({res})")
        tls_vip = json.loads(lab.lbctl("-o", "json", "vip", "list").stdout)["vips"]
        tls_vip = [v for v in tls_vip if v["key"] == f"{VIP_TLS}:8443/tcp"][0]
        wait_health(lab, f"{VIP_TLS}:8443/tcp", "be3", "unhealthy", 5)
        tls_vip = [v for v in json.loads(lab.lbctl("-o", "json", "vip", "list").stdout)["vips"]
                   if v["key"] == f"{VIP_TLS}:8443/tcp"][0]
        check(tls_vip["health"]["degraded"] and not tls_vip["backends"][0]["health_removed"],
              "a 1-backend VIP at the 50% cap keeps its backend in and shows degraded")
        lab.ns_run(lab.ns_backend(3), ["ip", "link", "set", "eth0", "up"])
        lab.ns_run(lab.ns_backend(3), ["ip", "route", "replace", "default", "via", "198.51.100.129"])

        # 5. Cap 100%: all down -> no-backend behaviour; one back -> recovers.
        allv = f"{VIP_ALL}:8080/tcp"
        lab.stop("alt1", signal.SIGKILL)
        lab.stop("alt2", signal.SIGKILL)
        both = all(wait_health(lab, allv, n, "unhealthy", 10, removed=True) is not None
                   for n in ("be1", "be2"))
        check(both, "cap 100%: both backends removed")
        lab.wait_in_sync()
        before = counters(lab).get("drop_no_backend", 0)
        r = lab.client("http-many", VIP_ALL, 8080, 2)
        after = counters(lab).get("drop_no_backend", 0)
        check(r["failures"] == 2 and after > before,
              f"no backend: requests fail and drop_no_backend counts them ({before} -> {after})")
        lab.spawn("alt1", ["ip", "netns", "exec", lab.ns_backend(1), PYTHON,
                           os.path.join(E2E, "backend_server.py"), "be1",
                           "--http-port", "8080", "--udp-port", "5399"])
        t = wait_health(lab, allv, "be1", "healthy", 10, removed=False)
        lab.wait_in_sync()
        r = lab.client("http-many", VIP_ALL, 8080, 10)
        check(t is not None and r["failures"] == 0 and r["per_backend"].get("be1") == 10,
              f"recovers when one returns ({r['per_backend']})")

        # 6. kill -9 and restart of lb-controlplane while be2 is down.
        lab.stop("server2", signal.SIGKILL)
        wait_health(lab, vip, "be2", "unhealthy", 10, removed=True)
        lab.stop("controlplane", signal.SIGKILL)
        lab.start_controlplane(netns=ns_lb, extra=cp_args)
        first = backends(lab, vip)
        check(first["be2"]["health"] == "unknown" and first["be1"]["health"] == "unknown",
              "after a restart every backend starts unknown (and keeps its traffic)")
        t = wait_health(lab, vip, "be2", "unhealthy", 10, removed=True)
        check(t is not None, f"be2 unhealthy and out {t and round(t, 2)} s after the restart")
        lab.wait_in_sync()
        after_restart = backends(lab, vip)
        check(all(after_restart[n]["health"] in ("healthy", "unknown") and
                  not after_restart[n]["health_removed"] for n in ("be1", "be3")),
              "no healthy backend removed after the restart")
        r = lab.client("http-many", VIP_HTTP, 80, 40)
        check(r["failures"] == 0 and "be2" not in r["per_backend"],
              f"after the first verdict no traffic to be2 ({r['per_backend']})")
        state = json.load(open(lab.state_file))
        states = {b["name"]: b["state"] for v in state["vips"] for b in v["backends"]
                  if v["address"] == VIP_HTTP}
        check(states == {"be1": "active", "be2": "active", "be3": "active"},
              f"health never reaches the state file ({states})")
        if failures:
            print("controlplane log:\n" + lab.read_log("controlplane"))
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
