#!/usr/bin/python3
"""BGP anycast over several Sluice hosts behind an ECMP router (issue 14;
README, "Many hosts"), end to end on real TCP in the namespace lab of
tests/e2e/bgp_lab.py: 3 hosts, each with the real lb-dataplane,
lb-controlplane and BIRD; BIRD on the router; the same configuration applied
to every host with `lbctl config apply`.

Cases, in one lab:
  1. routes: the router has one route per VIP (IPv4 and IPv6) with a next
     hop per host, put there by BGP alone; 300 new connections spread over
     every host;
  2. same choice everywhere: flow.explain gives the same backend on every
     host for 1,000 flows; 300 real connections from fixed client ports
     each reach the backend flow.explain names, whichever host carried it;
  3. moved flows keep their backend: 100 long-lived connections (uploads
     and answers, checked), `lbctl host drain` on the host carrying the most
     of them: they all go on through the other hosts, same backend, no
     reset, no lost request; the time from the drain to the router's route
     losing the host is printed; `lbctl host undrain` brings it back, and
     the connections ECMP moves back do not notice either;
  4. health-driven: the backends' subnet blackholed in one host's
     namespace only: that host withdraws the IPv4 VIPs (its health probes
     fail), the others keep them, and it announces again after the
     hold-down once the blackhole is gone;
  5. hysteresis: the only backend of a VIP flaps every second (fast health
     check): each host withdraws the VIP at most once and announces it
     again only after the flapping stops, a hold-down later.
Measured numbers are printed on MEASURED lines.

Usage: bgp_ecmp_test.py BUILD_DIR
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bgp_lab  # noqa: E402
import sluice_lab  # noqa: E402
from sluice_lab import PYTHON, E2E  # noqa: E402

VIP_WEB, VIP_WEB6, VIP_FLAP = bgp_lab.VIP_WEB, bgp_lab.VIP_WEB6, "192.0.2.12"
P_WEB, P_WEB6, P_FLAP = "192.0.2.10/32", "2001:db8::10/128", "192.0.2.12/32"
FLAP_PORT = 8080
HOLD_DOWN = 3  # seconds (lb-controlplane --bgp-hold-down)
EXPLAIN_PORTS = range(30000, 31000)  # 1,000 flows; the first 300 are real
failures = []
measured = {}


check = sluice_lab.checker(failures)


def config():
    fast = {"interval_ms": 200, "timeout_ms": 150, "rise": 1, "fall": 1}
    timing = {"interval_ms": 300, "timeout_ms": 200, "rise": 2, "fall": 2}
    return {"vips": bgp_lab.web_vips(timing) + [
        {"address": VIP_FLAP, "port": FLAP_PORT, "protocol": "tcp", "min_healthy": 1,
         "health": {"kind": "tcp", **fast}, "backends": bgp_lab.shared_backends()[:1]},
    ]}


def flap_server(lab, up, down, seconds):
    """be1's server on FLAP_PORT: flapping for `seconds`, then steady."""
    lab.stop("flap")
    lab.spawn("flap", ["ip", "netns", "exec", lab.ns_backend(1), PYTHON,
                       os.path.join(E2E, "flap_server.py"), "be1", str(FLAP_PORT), str(up),
                       str(down), str(seconds)])


def new_flows(lab, key):
    return {h.i: h.vip_new_flows(key) for h in lab.hosts}


def case_routes_and_same_choice(lab):
    everyone = {h.i for h in lab.hosts}
    for p in (P_WEB, P_WEB6, P_FLAP):
        routes = lab.router_routes(p)
        hops = len(routes[0].get("nexthops", [routes[0]])) if routes else 0
        check(len(routes) == 1 and hops == len(lab.hosts) and lab.router_hosts(p) == everyone,
              f"routes: the router has one route for {p} with a next hop per host "
              f"({len(routes)} routes, {hops} next hops: {sorted(lab.router_hosts(p))})")
    for h in lab.hosts:
        st = h.json("status")
        check(st.get("dataplane", {}).get("hash_seed") == bgp_lab.HASH_SEED,
              f"{h.name}: status shows the shared hash seed")

    # flow.explain on every host: one API connection per host, 1,000 requests.
    t0 = time.time()
    choices = {h.i: bgp_lab.explain_all(h, VIP_WEB, 80, EXPLAIN_PORTS) for h in lab.hosts}
    reference = choices[1]
    differ = [p for p in EXPLAIN_PORTS if any(choices[i][p] != reference[p] for i in choices)]
    spread = {}
    for p in EXPLAIN_PORTS:
        spread[reference[p]] = spread.get(reference[p], 0) + 1
    check(not differ and None not in spread,
          f"same choice: flow.explain names the same backend on all {len(lab.hosts)} hosts for "
          f"{len(EXPLAIN_PORTS)} flows ({len(differ)} differ; backends {spread}; "
          f"{time.time() - t0:.1f} s)")

    # 300 real connections from the first 300 of those ports.
    real = list(EXPLAIN_PORTS)[:300]
    before = new_flows(lab, f"{VIP_WEB}:80")
    r = lab.client("http-ports", VIP_WEB, 80, real[0], len(real))
    after = new_flows(lab, f"{VIP_WEB}:80")
    carried = {i: after[i] - before[i] for i in after}
    got = {int(p): b for p, b in r["ports"].items()}
    wrong = [p for p in real if got.get(p) != reference[p]]
    check(r["failures"] == 0, f"routes: 300 new connections, {r['failures']} failed {r['errors']}")
    check(all(n > 0 for n in carried.values()) and sum(carried.values()) >= len(real),
          f"routes: every host carried part of them (new flows per host {carried})")
    check(not wrong, f"same choice: every connection reached the backend flow.explain names "
                     f"({len(wrong)} did not: {[(p, got.get(p), reference[p]) for p in wrong[:5]]})")
    measured["spread_300"] = carried
    r6 = lab.client("http-many", VIP_WEB6, 80, 30)
    check(r6["failures"] == 0 and sum(r6["per_backend"].values()) == 30,
          f"routes: 30 connections to the IPv6 VIP ({r6['per_backend']}, {r6['failures']} failed)")


def case_moved_flows(lab):
    conns = 100
    out = os.path.join(lab.tmp, "long.json")
    lab.client_background("long", "http-long-post", VIP_WEB, 80, conns, 90, out, 2000, 3, 0.2)
    lab.wait_for(lambda: len(sluice_lab.read_json(out, [])) == conns and
                 all(c["ok"] >= 2 or c["failed"] for c in sluice_lab.read_json(out, [])), 60,
                 "100 long-lived connections to be under way")
    start = sluice_lab.read_json(out, [])
    check(all(c["failed"] == 0 for c in start), "moved flows: 100 connections under way, none failed")
    ports = [c["port"] for c in start]
    backend_of = {c["port"]: c["backends"][0] for c in start if c["backends"]}
    held = bgp_lab.carriers(lab.hosts, VIP_WEB, 80, ports)
    per_host = {h.i: [p for p in ports if h.i in held[p]] for h in lab.hosts}
    victim = max(lab.hosts, key=lambda h: len(per_host[h.i]))
    moved = per_host[victim.i]
    print(f"     connections per host before the drain: "
          f"{ {i: len(v) for i, v in per_host.items()} }; draining {victim.name}")
    check(len(moved) > 0, f"moved flows: {victim.name} carries {len(moved)} of the connections")

    monitor = lab.monitor("monitor-drain")
    others = {h.i for h in lab.hosts} - {victim.i}
    t0 = time.time()
    drain = {}

    def run_drain():
        drain["r"] = victim.lbctl("host", "drain", "--gshut-time", "1", "--timeout", "15",
                                  check=False, timeout=60)
        drain["t"] = time.time() - t0

    th = threading.Thread(target=run_drain)
    th.start()
    left = lab.wait_router(P_WEB, lambda hs: victim.i not in hs, 10)
    # During the graceful-shutdown time the router still has the host's
    # route, with the community and local preference 0: not in ECMP, but
    # there for as long as the host is the only way.
    gshut = lab.router_birdc("show", "route", P_WEB, "all")
    state_in_gshut = victim.bgp()["host"]["state"]
    th.join(60)
    r = drain.get("r")
    check(r is not None and r.returncode == 0,
          f"moved flows: lbctl host drain exits 0 ({r and (r.stdout.strip() or r.stderr.strip())})")
    check(left is not None and lab.router_hosts(P_WEB) == others,
          f"moved flows: the router's route loses {victim.name} {left and round(left, 3)} s after "
          f"the drain started (graceful shutdown), keeps the others")
    paths = gshut.split("unicast [")[1:]
    tagged = [p for p in paths if f"via {victim.addr4} " in p]
    check(len(paths) == len(lab.hosts) and len(tagged) == 1 and "(65535,0)" in tagged[0] and
          "BGP.local_pref: 0" in tagged[0],
          f"moved flows: during the graceful-shutdown time the router holds {victim.name}'s route "
          f"with community (65535,0) and local preference 0 ({len(paths)} paths)")
    check(state_in_gshut == "graceful-shutdown",
          f"moved flows: meanwhile {victim.name} says graceful-shutdown ({state_in_gshut})")
    bgp = victim.bgp()
    check(bgp["host"]["state"] == "drained" and not any(v["announced"] for v in bgp["vips"]),
          f"moved flows: {victim.name} is drained and announces nothing ({bgp['host']['state']})")
    check(lab.router_hosts(P_WEB6) == others, "moved flows: the IPv6 VIP left the drained host too")
    events = monitor.events(P_WEB)
    monitor.stop()
    gone = [t - t0 for t, hs in events if victim.i not in hs]
    # Requests answered from here on went through the other hosts: the
    # drained host's routes are gone.
    at_drained = {c["port"]: c["ok"] for c in sluice_lab.read_json(out, [])}
    time.sleep(3)
    mid = {c["port"]: c for c in sluice_lab.read_json(out, [])}
    progressed = [p for p in moved if p in mid and mid[p]["ok"] >= at_drained.get(p, 0) + 2]
    check(len(progressed) == len(moved),
          f"moved flows: all {len(moved)} connections the drained host carried went on after it "
          f"was drained ({len(progressed)} answered 2 or more requests more)")
    held = bgp_lab.carriers([h for h in lab.hosts if h.i != victim.i], VIP_WEB, 80, moved)
    check(all(held[p] for p in moved),
          f"moved flows: the other hosts now hold the moved connections "
          f"({sum(1 for p in moved if held[p])} of {len(moved)})")

    # Back: ECMP moves flows again, onto the returning host; they must not
    # notice either.
    t1 = time.time()
    victim.lbctl("host", "undrain")
    back = lab.wait_router(P_WEB, lambda hs: victim.i in hs, 10, since=t1)
    check(back is not None, f"undrain: {victim.name} is back in the route {back and round(back, 2)} s "
                            f"after lbctl host undrain")
    back6 = lab.wait_router(P_WEB6, lambda hs: victim.i in hs, 10)
    check(back6 is not None, "undrain: the IPv6 VIP too")
    time.sleep(2)
    lab.stop("long")  # SIGTERM: the client writes its last results and ends
    final = sluice_lab.read_json(out, [])
    failed = [c for c in final if c["failed"]]
    resets = [c for c in final if any("Reset" in e or "reset" in e for e in c["errors"])]
    changed = [c for c in final
               if len(c["backends"]) != 1 or c["backends"][0] != backend_of.get(c["port"])]
    check(len(final) == conns and not failed,
          f"moved flows: none of the {conns} connections failed or lost a request through the "
          f"drain and the undrain ({len(failed)} did: {[c['errors'][:1] for c in failed[:3]]})")
    check(not changed, f"moved flows: every connection kept its backend ({len(changed)} changed)")
    measured["drain_route_left_s"] = round(left, 3) if left is not None else None
    measured["drain_route_left_monitor_s"] = round(gone[0], 3) if gone else None
    measured["drain_command_s"] = round(drain.get("t", -1), 2)
    measured["moved_connections"] = len(moved)
    measured["moved_resets"] = len(resets)
    measured["moved_failed"] = len(failed)


def case_health_driven(lab):
    victim = lab.hosts[2]
    everyone = {h.i for h in lab.hosts}
    others = everyone - {victim.i}
    t0 = time.time()
    lab.ns_run(victim.ns, ["ip", "route", "add", "blackhole", "198.51.100.128/25"])
    gone = lab.wait_router(P_WEB, lambda hs: hs == others, 15, poll=0.05)
    check(gone is not None, f"health-driven: backends unreachable from {victim.name} only: it "
                            f"withdraws {P_WEB} ({gone and round(gone, 2)} s), the others keep it")
    vips = {v["vip"]: v for v in victim.bgp()["vips"]}
    web = [v for k, v in vips.items() if k.startswith(f"{VIP_WEB}:")]
    check(web and not web[0]["announced"] and web[0]["reason"] != "can serve",
          f"health-driven: {victim.name} says why ({web and web[0]['reason']})")
    check(lab.router_hosts(P_WEB6) == everyone,
          "health-driven: the IPv6 VIP (its backends still reachable) stays announced everywhere")
    before = new_flows(lab, f"{VIP_WEB}:80")
    r = lab.client("http-many", VIP_WEB, 80, 60)
    after = new_flows(lab, f"{VIP_WEB}:80")
    check(r["failures"] == 0 and after[victim.i] == before[victim.i],
          f"health-driven: 60 new connections all succeed, none through {victim.name} "
          f"({ {i: after[i] - before[i] for i in after} })")
    t1 = time.time()
    lab.ns_run(victim.ns, ["ip", "route", "del", "blackhole", "198.51.100.128/25"])
    back = lab.wait_router(P_WEB, lambda hs: hs == everyone, HOLD_DOWN + 10, poll=0.05)
    check(back is not None and back >= HOLD_DOWN,
          f"health-driven: announced again {back and round(back, 2)} s after the backends are "
          f"reachable (hold-down {HOLD_DOWN} s, plus rise)")
    measured["health_withdraw_s"] = gone and round(gone, 2)
    measured["health_return_s"] = back and round(back, 2)
    print(f"     blackhole for {t1 - t0:.1f} s")


def case_hysteresis(lab):
    everyone = {h.i for h in lab.hosts}
    if not check(lab.wait_router(P_FLAP, lambda hs: hs == everyone, HOLD_DOWN + 10) is not None,
                 "hysteresis: every host announces the flapping VIP before it flaps"):
        return
    monitor = lab.monitor("monitor-flap")
    flap_for = 8
    t0 = time.time()
    flap_server(lab, 1, 1, flap_for)
    time.sleep(flap_for + 0.3)
    t_stable = time.time()
    time.sleep(1)
    flap_view = [v for v in lab.hosts[0].bgp()["vips"] if v["prefix"] == P_FLAP]
    back = lab.wait_router(P_FLAP, lambda hs: hs == everyone, HOLD_DOWN + 10, poll=0.05,
                           since=t_stable)
    time.sleep(0.3)
    events = monitor.events(P_FLAP)
    monitor.stop()
    during = [(t - t0, hs) for t, hs in events if t < t_stable]
    # Each event is the route's whole next-hop set: during the flapping it
    # may only shrink, and each host leaves once.
    grew, prev = [], everyone
    for t, hs in during:
        if hs - prev:
            grew.append((round(t, 2), sorted(hs)))
        prev = hs
    left, prev_hs = {i: 0 for i in everyone}, everyone
    for _, hs in during:
        for i in prev_hs - hs:
            left[i] += 1
        prev_hs = hs
    check(all(n <= 1 for n in left.values()),
          f"hysteresis: each host withdrew the VIP at most once ({left})")
    check(not grew, f"hysteresis: no host announced the flapping VIP again while it flapped "
                    f"({len(during)} route changes; re-announcements: {grew})")
    withdrawn_everywhere = not prev
    check(withdrawn_everywhere, f"hysteresis: every host withdrew it (once) while it flapped "
                                f"(route at the end of the flapping: {sorted(prev)})")
    check(back is not None and back >= HOLD_DOWN - 0.5,
          f"hysteresis: announced again {back and round(back, 2)} s after the flapping stopped "
          f"(hold-down {HOLD_DOWN} s)")
    remaining = flap_view[0].get("hold_down_remaining_s", 0) if flap_view else 0
    check(flap_view and not flap_view[0]["announced"] and 0 < remaining < HOLD_DOWN,
          f"hysteresis: a second after it stopped flapping h1 waits out the hold-down "
          f"({remaining} s left: {flap_view and flap_view[0]['reason']})")
    measured["flap_route_changes"] = len(during)
    measured["flap_return_s"] = back and round(back, 2)
    print(f"     route changes while flapping: {[(round(t, 2), sorted(hs)) for t, hs in during]}; "
          f"withdrawals per host {left}")


def body(lab):
    cfg = config()
    # be1's server on the flapping VIP's port, steady to start with.
    lab.start_all(cfg, [VIP_WEB, VIP_WEB6, VIP_FLAP], extra_backends=[
        ("flap", ["ip", "netns", "exec", lab.ns_backend(1), PYTHON,
                  os.path.join(E2E, "flap_server.py"), "be1", str(FLAP_PORT), "1", "1", "0"])])
    digests = {h.json("status")["controlplane"]["config_digest"] for h in lab.hosts}
    check(len(digests) == 1, f"every host shows the same configuration digest ({digests})")
    bgp_lab.run_cases(lab, (case_routes_and_same_choice, case_moved_flows, case_health_driven,
                            case_hysteresis), measured)


def main():
    return bgp_lab.run_bgp_test("bgp_ecmp", "be", sys.argv[1], body, failures,
                                hold_down=HOLD_DOWN)


if __name__ == "__main__":
    sys.exit(main())
