#!/usr/bin/python3
"""The exception path (issue 15, DESIGN.md section 6) on real traffic in the
namespace lab: a port the kernel does not see, with the host's own
addresses on the kernel's exception interface (net_tap).

The Sluice host's veth lb0 stands in for a NIC under a DPDK driver
(scripts/topology --mode exception): it keeps no address (IPv6 off), and
lb-dataplane opens it with net_af_xdp and the PMD's own XDP program, which
sends every frame to DPDK, so the kernel sees none of them.
So whatever the host answers on lb0 goes through the dataplane: frames for
no VIP go to the exception interface `sluice-exc`, which holds the host's
addresses, and what the kernel sends there leaves by lb0.

Checks:
  1. without the dataplane nothing answers for the host's address on lb0
     (no ARP answer, no ping);
  2. with it: the exception interface has lb0's MAC, the router learns that
     MAC for the host's address by ARP (IPv4) and neighbour discovery
     (IPv6), ping works both ways in both families, a TCP session to the
     host's address carries 2 MB each way intact, and BIRD on the router and
     on the host bring up a BGP session over it;
  3. VIP traffic (HTTP over IPIP, UDP) is forwarded meanwhile; 600 pings,
     a TCP transfer to the host and 300 VIP connections at once lose
     nothing;
  4. lbctl stats counts the frames each way and no drop on the exception
     path; lbctl status shows the exception port;
  5. the exception path's rate (TCP through it, ping flood) is printed.

Usage: exception_path_test.py BUILD_DIR
"""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sluice_lab  # noqa: E402
from sluice_lab import PYTHON, E2E, backend_addr4, VIP4_HTTP, VIP4_UDP  # noqa: E402

HOST4, HOST6 = "198.51.100.2", "2001:db8:a::2"
ROUTER4 = "198.51.100.1"
EXC = "sluice-exc"     # the exception interface (scripts/topology's EXC_IFACE)
ECHO_PORT = 1179       # the TCP session to the host's own address
failures = []
check = sluice_lab.checker(failures)


def config():
    backends = [{"name": f"be{i}", "address": backend_addr4(i)} for i in (1, 2, 3)]
    return {"vips": [
        {"address": VIP4_HTTP, "port": 80, "protocol": "tcp", "encap": "ipip",
         "backends": backends},
        {"address": VIP4_UDP, "port": 5353, "protocol": "udp", "encap": "ipip",
         "backends": backends},
    ]}


def ping(lab, ns, target, count, interval="0.2", wait="1"):
    """(sent, received) of a bounded ping."""
    out = lab.ns_run(ns, ["ping", "-n", "-q", "-c", str(count), "-i", interval, "-W", wait,
                          target], timeout=count * float(interval) + 30)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", out)
    return (int(m.group(1)), int(m.group(2))) if m else (count, 0)


BIRD, BIRDC = "/usr/sbin/bird", "/usr/sbin/birdc"
BGP_ROUTE = "192.0.2.99/32"  # what the host announces over the session
BIRD_CONF = {
    "router": """router id 198.51.100.1;
protocol device {}
protocol bgp host {
  local 198.51.100.1 as 64512; neighbor 198.51.100.2 as 64513;
  hold time 6; connect retry time 1;
  ipv4 { import all; export none; };
}
""",
    "host": """router id 198.51.100.2;
protocol device {}
protocol static announced { ipv4; route %s blackhole; }
protocol bgp upstream {
  local 198.51.100.2 as 64513; neighbor 198.51.100.1 as 64512;
  hold time 6; connect retry time 1;
  ipv4 { import none; export all; };
}
""" % BGP_ROUTE,
}


def start_bird(lab, who, ns):
    """BIRD 2 on the router or the Sluice host, its own files in the lab's
    directory; returns its control socket."""
    conf = os.path.join(lab.tmp, f"bird-{who}.conf")
    ctl = os.path.join(lab.tmp, f"bird-{who}.ctl")
    with open(conf, "w") as f:
        f.write(BIRD_CONF[who])
    proc = lab.spawn(f"bird-{who}", ["ip", "netns", "exec", ns, BIRD, "-f", "-c", conf, "-s", ctl,
                                     "-P", os.path.join(lab.tmp, f"bird-{who}.pid")])
    lab.wait_for(lambda: os.path.exists(ctl) or proc.poll() is not None, 10,
                 f"the {who}'s BIRD to open its control socket")
    if proc.poll() is not None:
        raise RuntimeError(f"BIRD on the {who} exited: " + lab.read_log(f"bird-{who}"))
    return ctl


def birdc(ctl, *args):
    return subprocess.run([BIRDC, "-s", ctl, *args], capture_output=True, text=True,
                          timeout=10).stdout


def bgp_session(lab, ns_router, ns_lb):
    """A BGP session between the router and the host's address on the
    exception interface: Established, and the host's route at the router."""
    router_ctl = start_bird(lab, "router", ns_router)
    start_bird(lab, "host", ns_lb)
    t0 = time.time()
    established = False
    while not established and time.time() - t0 < 20:
        established = "Established" in birdc(router_ctl, "show", "protocols", "host")
        time.sleep(0.2)
    check(established, f"BGP session router <-> {HOST4} through the exception path "
                       f"Established after {time.time() - t0:.1f} s")
    routes = birdc(router_ctl, "show", "route", BGP_ROUTE)
    check(BGP_ROUTE.split("/")[0] in routes and "198.51.100.2" in routes,
          f"the router learnt {BGP_ROUTE} from the host over it")


def router_neighbour(lab, address):
    out = lab.ns_run(lab.env["NS_ROUTER"], ["ip", "-j", "neigh", "show", address])
    entries = json.loads(out or "[]")
    return entries[0].get("lladdr") if entries else None


def run(lab):
    lab.up(mode="exception")
    ns_lb, ns_router = lab.env["NS_LB"], lab.env["NS_ROUTER"]
    lb0_mac = lab.ns_run(ns_lb, ["cat", "/sys/class/net/lb0/address"]).strip()
    addrs = json.loads(lab.ns_run(ns_lb, ["ip", "-j", "addr", "show", "dev", "lb0"]))
    check(not addrs[0].get("addr_info"), "lb0 carries no address")

    # 1. The kernel does not answer on lb0 by itself.
    sent, got = ping(lab, ns_router, HOST4, 2)
    check(got == 0, f"without the dataplane the host's address does not answer ({got}/{sent})")
    check(router_neighbour(lab, HOST4) in (None, ""),
          f"nor does ARP: the router has no MAC for {HOST4} ({router_neighbour(lab, HOST4)})")

    lab.start_backends([VIP4_HTTP, VIP4_UDP])
    # The next hop's MAC comes from the kernel's neighbour table, which in
    # this mode the kernel keeps on the exception interface.
    lab.start_dataplane(vdevs=lab.env["DP_VDEVS"].split(),
                        extra=lab.env["DP_PORT_ARGS"].split(), next_hop_ips=(ROUTER4,))
    lab.host_addresses(EXC)
    lab.start_controlplane()
    lab.apply_config(config())
    lab.wait_in_sync()

    def next_hop_v4():
        status = json.loads(lab.lbctl("-o", "json", "status").stdout)
        return [h for h in status["dataplane"]["next_hops"] if h["family"] == 4][0]
    lab.wait_for(lambda: next_hop_v4()["mac"] is not None, 10,
                 "the next hop to be resolved through the exception interface")
    check(next_hop_v4()["mac"] == lab.env["ROUTER_MAC_TO_LB"],
          f"the next hop {ROUTER4} resolved by the kernel on {EXC}: {next_hop_v4()['mac']}")
    status = json.loads(lab.lbctl("-o", "json", "status").stdout)
    roles = {p["role"]: p for p in status["dataplane"]["ports"]}
    check(set(roles) == {"ingress", "exception"} and roles["exception"]["driver"] == "net_tap",
          f"status shows the ingress and the exception port: {sorted(roles)}")
    exc_mac = lab.ns_run(ns_lb, ["cat", f"/sys/class/net/{EXC}/address"]).strip()
    check(exc_mac == lb0_mac, f"{EXC} took lb0's MAC ({exc_mac}, lb0 {lb0_mac})")

    # 2. ARP, neighbour discovery, ping and TCP to the host's address. The
    # router's very first ARP request must be answered: with net_af_xdp an
    # mbuf outside the PMD's umem used to lose the first frames the kernel
    # sent (dataplane/mbuf_pool.h).
    sent, got = ping(lab, ns_router, HOST4, 5)
    check(got == sent, f"router pings {HOST4} through the dataplane ({got}/{sent})")
    check(router_neighbour(lab, HOST4) == lb0_mac,
          f"the router learnt {HOST4} at lb0's MAC by ARP ({router_neighbour(lab, HOST4)})")
    sent, got = ping(lab, ns_router, HOST6, 5)
    check(got == sent, f"router pings {HOST6} ({got}/{sent})")
    check(router_neighbour(lab, HOST6) == lb0_mac,
          f"the router learnt {HOST6} by neighbour discovery ({router_neighbour(lab, HOST6)})")
    sent, got = ping(lab, ns_lb, ROUTER4, 5)
    check(got == sent, f"the host pings its router out through the dataplane ({got}/{sent})")
    sent, got = ping(lab, lab.env["NS_CLIENT"], HOST4, 5)
    check(got == sent, f"the client pings the host across the router ({got}/{sent})")

    lab.spawn("echo", ["ip", "netns", "exec", ns_lb, PYTHON, os.path.join(E2E, "tcp_echo.py"),
                       "serve", "0.0.0.0", str(ECHO_PORT), "120"])
    lab.wait_for(lambda: lab.listening(ns_lb, ECHO_PORT), 10, "the echo server on the host")
    tcp_args = [PYTHON, os.path.join(E2E, "tcp_echo.py"), "send", HOST4, str(ECHO_PORT)]
    r = json.loads(lab.ns_run(ns_router, [*tcp_args, str(2 << 20)], timeout=60))
    check(r["ok"], f"TCP session to {HOST4}:{ECHO_PORT}: 2 MB each way intact ({r})")

    bgp_session(lab, ns_router, ns_lb)

    # 3. Both kinds at once, without loss.
    before = lab.stats()
    pinger = lab.spawn("pinger", ["ip", "netns", "exec", ns_router, "ping", "-n", "-q", "-c",
                                  "600", "-i", "0.01", "-W", "2", HOST4])
    transfer = lab.spawn("transfer", ["ip", "netns", "exec", lab.env["NS_CLIENT"], *tcp_args,
                                      str(8 << 20)])
    vip = lab.client("http-many", VIP4_HTTP, 80, 300)
    udp = lab.client("udp-many", VIP4_UDP, 5353, 200)
    pinger.wait(timeout=60)
    transfer.wait(timeout=60)
    ping_out = lab.read_log("pinger")
    m = re.search(r"(\d+) packets transmitted, (\d+) received", ping_out)
    check(m is not None and m.group(1) == m.group(2) == "600",
          f"600 pings to the host during VIP traffic, none lost ({m.groups() if m else ping_out})")
    transferred = json.loads(lab.read_log("transfer").strip().splitlines()[-1])
    check(transferred["ok"], f"8 MB each way to the host during VIP traffic, intact "
                             f"({transferred['bytes']} bytes back)")
    check(vip["failures"] == 0 and len(vip["per_backend"]) == 3,
          f"300 HTTP connections through the VIP meanwhile, none failed ({vip['failures']} "
          f"failed, {vip['per_backend']})")
    after = lab.stats()
    delta = {k: after[k] - before.get(k, 0) for k in after}
    check(udp["failures"] == 0, f"200 UDP flows through the VIP meanwhile, all answered "
                                f"({udp['failures']} failed)")
    check(delta["fwd_packets"] >= 300 * 5 + 200,
          f"the VIP traffic went through the dataplane ({delta['fwd_packets']} packets "
          f"forwarded)")

    # 4. Counted both ways, no drop on the path.
    check(delta["to_kernel_packets"] >= 600 and delta["from_kernel_packets"] >= 600,
          f"frames to the kernel {delta['to_kernel_packets']}, from it "
          f"{delta['from_kernel_packets']}")
    check(after["drop_to_kernel_full"] == 0 and after["drop_from_kernel_full"] == 0,
          f"no drop on the exception path ({after['drop_to_kernel_full']} to, "
          f"{after['drop_from_kernel_full']} from the kernel)")

    # 5. The exception path's rate (for the closing note; not a pass/fail).
    r = json.loads(lab.ns_run(ns_router, [*tcp_args, str(32 << 20), "60"], timeout=90))
    check(r["ok"], "32 MB each way through the exception path intact")
    print(f"rate: TCP through the exception path {r['mbit_per_s']:.0f} Mbit/s "
          f"(both directions together, {r['seconds']:.2f} s for 2 x 32 MB)", flush=True)
    before = lab.stats()
    t0 = time.time()
    sent, got = ping(lab, ns_router, HOST4, 5000, interval="0.0002", wait="1")
    elapsed = time.time() - t0
    after = lab.stats()
    print(f"rate: ping flood {got}/{sent} answered in {elapsed:.2f} s "
          f"({(after['to_kernel_packets'] - before['to_kernel_packets']) / elapsed:.0f} frames/s "
          f"to the kernel)", flush=True)
    check(got >= sent * 0.99, f"a fast ping flood loses at most 1% ({got}/{sent})")


def main():
    return sluice_lab.run_lab_test("exception path", "slx", sys.argv[1], run, failures)


if __name__ == "__main__":
    sys.exit(main())
