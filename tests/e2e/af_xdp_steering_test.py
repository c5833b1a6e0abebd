#!/usr/bin/python3
"""AF_XDP steering end to end (issue 15, DESIGN.md section 6): lb-dataplane
drives the Sluice host's veth lb0 through net_af_xdp with --xdp-steering,
so Sluice's XDP program (dataplane/xdp/steer.bpf.c) hands only VIP traffic
to the dataplane and passes the rest to the kernel.

Covers: TCP (IPv4 and IPv6) and UDP through the VIPs with DSR answers while
the Sluice host's IP stack sees none of those packets (its IP counters in
/proc/net/snmp and snmp6) and the program counts each one as redirected;
ARP, ND, ping and a TCP connection to the host's own address answered by
the kernel (counted as passed); a VIP added through the control plane is
steered to the dataplane and, once deleted, goes back to the kernel; a clean
stop removes the program and a dataplane killed with SIGKILL is replaced by
one that removes the program it left; without --xdp-steering the PMD's own
program (everything to the dataplane) is accepted and reported; bad input
is a clear start-up error.

Usage: af_xdp_steering_test.py BUILD_DIR
Needs root, network namespaces, veth, XDP and AF_XDP. With CI=true a missing
capability fails the test; otherwise it is reported as skipped (exit 77).
"""
import json
import os
import signal
import socket
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sluice_lab  # noqa: E402
from sluice_lab import (PYTHON, VIP4_HTTP, VIP4_UDP, VIP6_HTTP, backend_addr4,  # noqa: E402
                        backend_addr6)

VIP4_LATE = "192.0.2.20"  # added and deleted during the test
HOST4 = "198.51.100.2"    # the Sluice host's own addresses (scripts/topology)
HOST6 = "2001:db8:a::2"
HOST_TCP_PORT = 8080
AF_XDP_VDEV = "net_af_xdp0,iface=lb0"

failures = []
check = sluice_lab.checker(failures)


def backends(family=4):
    addr = backend_addr4 if family == 4 else backend_addr6
    return [{"name": f"be{i}", "address": addr(i), "weight": 1} for i in (1, 2, 3)]


def config(late=False):
    vips = [
        {"address": VIP4_HTTP, "port": 80, "protocol": "tcp", "encap": "ipip",
         "backends": backends()},
        {"address": VIP4_UDP, "port": 5353, "protocol": "udp", "encap": "ipip",
         "backends": backends()},
        {"address": VIP6_HTTP, "port": 80, "protocol": "tcp", "encap": "ipip",
         "backends": backends(6)},
    ]
    if late:
        vips.append({"address": VIP4_LATE, "port": 5353, "protocol": "udp", "encap": "ipip",
                     "backends": backends()})
    return {"vips": vips}


# The keys of the program's VIP map: each VIP's own key and one per address.
KEYS = 3 + 3
KEYS_LATE = KEYS + 2


def xdp(lab):
    """The steering program's counters for the ingress port (lbctl stats)."""
    ports = json.loads(lab.lbctl("-o", "json", "stats").stdout).get("xdp", [])
    return ports[0] if ports else {}


def ip_in_receives(lab):
    """Packets the Sluice host's IP stack received (v4 + v6): what it sees of
    the traffic, whatever its interface counters say."""
    ns = lab.env["NS_LB"]
    snmp = lab.ns_run(ns, ["cat", "/proc/net/snmp"]).splitlines()
    heads = [line.split() for line in snmp if line.startswith("Ip:")]
    v4 = int(heads[1][heads[0].index("InReceives")])
    v6 = 0
    for line in lab.ns_run(ns, ["cat", "/proc/net/snmp6"]).splitlines():
        if line.startswith("Ip6InReceives"):
            v6 = int(line.split()[1])
    return v4 + v6


def settle(lab):
    """Waits (bounded) until the program's counters, which the dataplane
    reads once a second, stop moving."""
    last = None
    deadline = time.time() + 5
    while time.time() < deadline:
        now = xdp(lab)
        if now == last:
            return now
        last = now
        time.sleep(1.2)
    return last


def delta(after, before, key):
    return after.get(key, 0) - before.get(key, 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def metric(text, name):
    """The value of the one sample of `name` (labels ignored), or None."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def program_on_lb0(lab):
    out = lab.ns_run(lab.env["NS_LB"], ["ip", "-j", "link", "show", "lb0"])
    link = json.loads(out)[0]
    return link.get("xdp", {}).get("prog", {}).get("name")


def run(lab):
    lab.up()
    lab.start_backends([VIP4_HTTP, VIP4_UDP, VIP6_HTTP, VIP4_LATE])
    lab.start_dataplane(vdevs=(AF_XDP_VDEV,), extra=("--xdp-steering",))
    metrics_port = free_port()
    lab.start_controlplane(("--metrics-address", f"127.0.0.1:{metrics_port}"))
    lab.apply_config(config())
    lab.wait_in_sync()

    status = json.loads(lab.lbctl("-o", "json", "status").stdout)
    port = status["dataplane"]["ports"][0]
    check(port["driver"] == "net_af_xdp" and port["xdp"] == "steering",
          f"lbctl status: port 0 is net_af_xdp with the steering program ({port})")
    check(program_on_lb0(lab) == "sluice_steer", "lb0 runs the program sluice_steer")
    lab.wait_for(lambda: xdp(lab).get("vip_keys") == KEYS, 5,
                 f"the program's VIP map to hold the tables' {KEYS} keys")

    # VIP traffic: forwarded by the dataplane, unseen by the host's IP stack.
    x0, dp0, ip0 = settle(lab), lab.stats(), ip_in_receives(lab)
    link0 = lab.link_stats(lab.env["NS_LB"], "lb0")
    http4 = lab.client("http-many", VIP4_HTTP, 80, 100)
    check(http4["failures"] == 0 and len(http4["per_backend"]) == 3,
          f"100 TCP connections to {VIP4_HTTP}:80 answered by the backends "
          f"{http4['per_backend']} {http4['errors']}")
    http6 = lab.client("http-many", VIP6_HTTP, 80, 30)
    check(http6["failures"] == 0 and len(http6["per_backend"]) == 3,
          f"30 TCP connections to [{VIP6_HTTP}]:80 answered {http6['per_backend']}")
    udp = lab.client("udp-many", VIP4_UDP, 5353, 50)
    check(udp["failures"] == 0, f"50 UDP datagrams to {VIP4_UDP}:5353 answered from the VIP "
                                f"{udp['per_backend']}")
    x1, dp1, ip1 = settle(lab), lab.stats(), ip_in_receives(lab)
    link1 = lab.link_stats(lab.env["NS_LB"], "lb0")
    received = dp1["rx_packets"] - dp0["rx_packets"]
    redirected = delta(x1, x0, "redirected")
    kernel = ip1 - ip0
    check(received >= 100 * 5 + 30 * 5 + 50,
          f"the dataplane received the VIP traffic ({received} packets, "
          f"{dp1['fwd_packets'] - dp0['fwd_packets']} forwarded)")
    check(redirected == received,
          f"the program redirected exactly what the dataplane received "
          f"({redirected} redirected, {received} received)")
    check(kernel <= 20,
          f"the host's IP stack received {kernel} packets while {received} VIP packets "
          f"arrived on lb0 (only stray neighbour/ping traffic is allowed)")
    print(f"info lb0 interface counters meanwhile: rx_packets +"
          f"{link1['rx_packets'] - link0['rx_packets']} (veth counts what its XDP program "
          f"saw), tx_packets +{link1['tx_packets'] - link0['tx_packets']}")
    check(delta(x1, x0, "no_socket") == 0, "no VIP packet lacked a socket")
    text = lab.lbctl("stats").stdout
    shown = [line for line in text.splitlines() if line.startswith("port 0 ")]
    check(any(line.split()[2] == "redirected" and int(line.split()[3]) >= x1["redirected"]
              for line in shown if len(line.split()) == 4),
          f"lbctl stats shows the program's counters: {shown}")
    scraped = metric(scrape(metrics_port), "sluice_port_xdp_redirected_packets_total")
    check(scraped is not None and scraped >= x1["redirected"],
          f"/metrics has sluice_port_xdp_redirected_packets_total ({scraped})")

    # The kernel keeps the host's own traffic: ARP, ND, ping, TCP.
    x0, ip0 = settle(lab), ip_in_receives(lab)
    router, client = lab.env["NS_ROUTER"], lab.env["NS_CLIENT"]
    lab.ns_run(router, ["ip", "neigh", "flush", "dev", "rl0"])
    out = lab.ns_run(router, ["ping", "-c", "2", "-i", "0.2", "-W", "2", HOST4])
    check(" 2 received" in out, f"the router resolves and pings {HOST4} (ARP and echo by "
                                f"the kernel): {out.strip().splitlines()[-2:]}")
    lb_mac = lab.ns_run(lab.env["NS_LB"], ["cat", "/sys/class/net/lb0/address"]).strip()
    neigh = lab.ns_run(router, ["ip", "neigh", "show", HOST4, "dev", "rl0"])
    check(lb_mac in neigh, f"the router's ARP entry for {HOST4} is lb0's MAC: {neigh.strip()}")
    out = lab.ns_run(router, ["ping", "-6", "-c", "2", "-i", "0.2", "-W", "2", HOST6])
    check(" 2 received" in out, f"the router resolves (ND) and pings {HOST6}: "
                                f"{out.strip().splitlines()[-2:]}")
    out = lab.ns_run(client, ["ping", "-c", "3", "-i", "0.2", "-W", "2", HOST4])
    check(" 3 received" in out, f"the client pings {HOST4} through the router")
    lab.spawn("host-server", ["ip", "netns", "exec", lab.env["NS_LB"], PYTHON, "-m",
                              "http.server", str(HOST_TCP_PORT), "--bind", HOST4,
                              "--directory", lab.tmp])
    lab.wait_for(lambda: lab.listening(lab.env["NS_LB"], HOST_TCP_PORT), 10,
                 "the Sluice host's own HTTP server")
    own = lab.client("http-many", HOST4, HOST_TCP_PORT, 5)
    check(own["failures"] == 0, f"5 TCP connections to the host's own {HOST4}:{HOST_TCP_PORT} "
                                f"answered by its kernel {own['errors']}")
    x1, ip1 = settle(lab), ip_in_receives(lab)
    passed = delta(x1, x0, "passed")
    check(passed >= 2 + 2 + 3 + 5 * 5 and ip1 - ip0 >= 2 + 3 + 5 * 5,
          f"that traffic was passed to the kernel ({passed} passed, {ip1 - ip0} received by "
          f"its IP stack)")
    check(delta(x1, x0, "redirected") == 0,
          f"none of it was redirected ({delta(x1, x0, 'redirected')})")

    # The VIP map follows publications: a VIP that is not (yet, or any more)
    # configured is the kernel's.
    def late_round(what):
        xa, dpa = settle(lab), lab.stats()
        sent = lab.client("udp-send", VIP4_LATE, 5353, 100)["sent"]
        xb, dpb = settle(lab), lab.stats()
        check(sent == 100 and delta(xb, xa, "passed") >= 100
              and delta(xb, xa, "redirected") == 0 and dpb["rx_packets"] == dpa["rx_packets"],
              f"{what}: 100 datagrams to {VIP4_LATE}:5353 passed to the kernel "
              f"({delta(xb, xa, 'passed')} passed, {delta(xb, xa, 'redirected')} redirected, "
              f"{dpb['rx_packets'] - dpa['rx_packets']} reached the dataplane)")

    late_round("before the VIP exists")
    lab.apply_config(config(late=True))
    lab.wait_in_sync()
    lab.wait_for(lambda: xdp(lab).get("vip_keys") == KEYS_LATE, 5,
                 "the program's VIP map to gain the new VIP's keys")
    xa, dpa = settle(lab), lab.stats()
    late = lab.client("udp-many", VIP4_LATE, 5353, 40)
    xb, dpb = settle(lab), lab.stats()
    check(late["failures"] == 0 and delta(xb, xa, "redirected") >= 40
          and dpb["fwd_packets"] - dpa["fwd_packets"] >= 40,
          f"once added, 40 datagrams to {VIP4_LATE}:5353 were redirected "
          f"({delta(xb, xa, 'redirected')}) and forwarded, answers {late['per_backend']}")
    lab.apply_config(config())
    lab.wait_in_sync()
    lab.wait_for(lambda: xdp(lab).get("vip_keys") == KEYS, 5,
                 "the program's VIP map to lose the deleted VIP's keys")
    late_round("after the VIP was deleted")
    check(xdp(lab).get("sync_errors") == 0, "no update of the VIP map failed")

    # A clean stop removes the program (the PMD detaches it); a dataplane
    # killed with SIGKILL leaves it, and the next one removes it and starts.
    lab.stop_dataplane(signal.SIGTERM)
    check(program_on_lb0(lab) is None, "a clean stop leaves no XDP program on lb0")
    lab.start_dataplane(vdevs=(AF_XDP_VDEV,), extra=("--xdp-steering",))
    lab.wait_in_sync()
    lab.stop_dataplane(signal.SIGKILL)
    check(program_on_lb0(lab) == "sluice_steer",
          "a dataplane killed with SIGKILL leaves its program on lb0")
    lab.start_dataplane(vdevs=(AF_XDP_VDEV,), extra=("--xdp-steering",))
    lab.wait_in_sync()
    works = False
    deadline = time.time() + 10
    while time.time() < deadline and not works:
        works = lab.client("http-many", VIP4_HTTP, 80, 1)["failures"] == 0
    check(works and "removed the steering program" in lab.read_log("dataplane"),
          "the next dataplane removed the program left behind and forwards again")

    # Without --xdp-steering the PMD's default program sends every packet to
    # the dataplane (a NIC owned by DPDK): legitimate, and said.
    lab.stop_dataplane()
    lab.start_dataplane(vdevs=(AF_XDP_VDEV,))
    lab.wait_in_sync()
    port = json.loads(lab.lbctl("-o", "json", "status").stdout)["dataplane"]["ports"][0]
    plain = lab.client("http-many", VIP4_HTTP, 80, 5)
    check(port["xdp"] == "other-program" and "not Sluice's steering program" in
          lab.read_log("dataplane") and plain["failures"] == 0 and not xdp(lab),
          f"without --xdp-steering: port xdp '{port['xdp']}', logged, VIP traffic forwarded "
          f"({plain['failures']} failures), no steering counters")

    # Bad input is a clear start-up error: steering on a port that is not
    # net_af_xdp, and a program object that does not exist.
    lab.stop_dataplane()
    for vdev, extra, words in (
            ("net_af_packet0,iface=lb0", ("--xdp-steering",), "not net_af_xdp"),
            (AF_XDP_VDEV, ("--xdp-steering", "--xdp-program", "/nonexistent/steer.o"),
             "cannot read the steering program")):
        try:
            lab.start_dataplane(vdevs=(vdev,), extra=extra)
            lab.wait_for(lambda: lab.procs["dataplane"].poll() is not None, 10,
                         "lb-dataplane to refuse")
            code = lab.procs["dataplane"].returncode
        except RuntimeError:
            code = lab.procs["dataplane"].poll()
        log = lab.read_log("dataplane")
        check(code == 1 and words in log,
              f"{vdev} {' '.join(extra)}: exit code {code}, says '{words}': "
              f"{log.strip().splitlines()[-1:] if log.strip() else ''}")
        lab.stop_dataplane()


def main():
    return sluice_lab.run_lab_test("af_xdp steering", "axs", sys.argv[1], run, failures)


if __name__ == "__main__":
    sys.exit(main())
