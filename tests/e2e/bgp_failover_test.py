#!/usr/bin/python3
"""A Sluice host that fails, and control-plane restarts, in the many-hosts
lab of tests/e2e/bgp_lab.py (issue 14; README, "Many hosts"): 3 hosts with
the real lb-dataplane, lb-controlplane and BIRD, BIRD on the router, real
TCP.

Cases, in one lab:
  1. dead dataplane: kill -9 of one host's lb-dataplane; the router's route
     loses that host within 1 s (measured by polling the router's table
     every 20 ms); new connections all succeed afterwards; long-lived
     connections through the other hosts are unaffected. Its dataplane
     restarted, the host comes back;
  2. control plane restarted alone (SIGTERM, then kill -9, each time
     started again): `ip monitor route` on the router sees no change of a
     VIP route all along;
  3. control plane killed first, then the dataplane: the routes still go
     within a few seconds (BIRD's routes hang on the dataplane's liveness
     device). The dataplane restarted while the control plane is still
     down gets no route back (its liveness device stays down until it has
     tables); the control plane started again brings the host back;
  4. BIRD on a host killed (-9): the router drops the host at once (the
     session closes; BFD would catch a silent death in 300 ms); BIRD
     started again, lb-controlplane reconnects and re-applies, and the host
     is back.
Measured numbers are printed on MEASURED lines.

Usage: bgp_failover_test.py BUILD_DIR
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bgp_lab  # noqa: E402
import sluice_lab  # noqa: E402

VIP_WEB, VIP_WEB6 = bgp_lab.VIP_WEB, bgp_lab.VIP_WEB6
P_WEB, P_WEB6 = "192.0.2.10/32", "2001:db8::10/128"
HOLD_DOWN = 2  # seconds (lb-controlplane --bgp-hold-down)
failures = []
measured = {}


check = sluice_lab.checker(failures)


def config():
    timing = {"interval_ms": 500, "timeout_ms": 300, "rise": 2, "fall": 2}
    return {"vips": bgp_lab.web_vips(timing)}


def kill_and_time(lab, host, what, seconds=5):
    """kill -9 of one of the host's daemons; the seconds until the router's
    route for P_WEB lost the host (polled every 20 ms), or None."""
    t0 = time.time()
    host.stop(what, signal.SIGKILL)
    return lab.wait_router(P_WEB, lambda hs: host.i not in hs, seconds, poll=0.02, since=t0)


def case_dead_dataplane(lab):
    everyone = {h.i for h in lab.hosts}
    victim = lab.hosts[1]
    others = everyone - {victim.i}
    conns = 60
    out = os.path.join(lab.tmp, "long.json")
    lab.client_background("long", "http-long-post", VIP_WEB, 80, conns, 60, out, 1000, 3, 0.2)
    lab.wait_for(lambda: len(sluice_lab.read_json(out, [])) == conns and
                 all(c["ok"] >= 2 or c["failed"] for c in sluice_lab.read_json(out, [])), 60,
                 "60 long-lived connections to be under way")
    ports = [c["port"] for c in sluice_lab.read_json(out, [])]
    held = bgp_lab.carriers(lab.hosts, VIP_WEB, 80, ports)
    through_victim = {p for p in ports if victim.i in held[p]}
    through_others = set(ports) - through_victim
    print(f"     {len(through_victim)} of {conns} connections go through {victim.name}")

    took = kill_and_time(lab, victim, "dataplane")
    check(took is not None and took <= 1.0,
          f"dead dataplane: the router's route lost {victim.name} {took and round(took, 3)} s after "
          f"kill -9 of its lb-dataplane (limit 1 s)")
    check(lab.router_hosts(P_WEB) == others, "dead dataplane: the other hosts keep the route")
    check(victim.liveness_state() is None, "dead dataplane: its liveness device is gone")
    gone6 = lab.wait_router(P_WEB6, lambda hs: victim.i not in hs, 2)
    check(gone6 is not None, "dead dataplane: the IPv6 VIP's route lost it too")
    measured["kill9_dataplane_withdraw_s"] = took and round(took, 3)
    r = lab.client("http-many", VIP_WEB, 80, 100)
    check(r["failures"] == 0, f"dead dataplane: 100 new connections afterwards, "
                              f"{r['failures']} failed {r['errors']}")
    time.sleep(2)
    lab.stop("long")
    final = {c["port"]: c for c in sluice_lab.read_json(out, [])}
    bad_others = [p for p in through_others if final[p]["failed"]]
    bad_victim = [p for p in through_victim if final[p]["failed"]]
    check(not bad_others, f"dead dataplane: the {len(through_others)} connections through the other "
                          f"hosts are unaffected ({len(bad_others)} failed)")
    print(f"     connections that went through {victim.name}: {len(bad_victim)} of "
          f"{len(through_victim)} failed")
    measured["kill9_dataplane_victim_conns_failed"] = f"{len(bad_victim)}/{len(through_victim)}"
    bgp = victim.bgp()
    web = [v for v in bgp["vips"] if v["prefix"] == P_WEB]
    check(web and not web[0]["announced"],
          f"dead dataplane: {victim.name}'s control plane withdrew too ({web and web[0]['reason']})")

    t0 = time.time()
    victim.start_dataplane()
    back = lab.wait_router(P_WEB, lambda hs: hs == everyone, HOLD_DOWN + 15, poll=0.05, since=t0)
    check(back is not None, f"dead dataplane: restarted, {victim.name} is back in the route "
                            f"{back and round(back, 2)} s later")
    measured["dataplane_restart_return_s"] = back and round(back, 2)
    print(f"     ({time.time() - t0:.1f} s)")


def case_controlplane_restart(lab):
    everyone = {h.i for h in lab.hosts}
    host = lab.hosts[0]
    monitor = lab.monitor("monitor-cp-restart")
    for sig in (signal.SIGTERM, signal.SIGKILL):
        host.stop("controlplane", sig)
        time.sleep(1)
        host.start_controlplane()
        lab.wait_for(host.in_sync, 20, f"{host.name} in sync after the restart")
        # Long enough for a withdrawal and a re-announcement after the
        # hold-down to show.
        time.sleep(HOLD_DOWN + 1.5)
        check(lab.router_hosts(P_WEB) == everyone and lab.router_hosts(P_WEB6) == everyone,
              f"control plane restarted alone ({signal.Signals(sig).name}): every host still in the "
              f"routes")
    check(monitor.alive(), "control plane restarted alone: ip monitor watched all along")
    monitor.stop()
    lines = monitor.lines_for([P_WEB, P_WEB6])
    check(not lines, f"control plane restarted alone: no change of a VIP route at the router "
                     f"({len(lines)} lines: {lines[:4]})")
    bgp = host.bgp()
    check(all(v["announced"] for v in bgp["vips"]),
          f"control plane restarted alone: it took the announcements over "
          f"({[(v['vip'], v['announced'], v['reason']) for v in bgp['vips']]})")


def case_controlplane_then_dataplane(lab):
    everyone = {h.i for h in lab.hosts}
    victim = lab.hosts[2]
    others = everyone - {victim.i}
    victim.stop("controlplane", signal.SIGKILL)
    time.sleep(0.5)
    check(lab.router_hosts(P_WEB) == everyone,
          "control plane dead: the host keeps announcing (fail static)")
    took = kill_and_time(lab, victim, "dataplane")
    check(took is not None and took <= 3.0,
          f"control plane dead, then dataplane: the route lost {victim.name} "
          f"{took and round(took, 3)} s after kill -9 of lb-dataplane (limit: a few seconds)")
    measured["kill9_cp_then_dataplane_withdraw_s"] = took and round(took, 3)
    check(lab.router_hosts(P_WEB6) == others, "control plane dead, then dataplane: IPv6 too")

    # The dataplane alone, no control plane: no tables, no route.
    victim.start_dataplane()
    time.sleep(3)
    check(victim.liveness_state() == "down" and victim.i not in lab.router_hosts(P_WEB),
          f"a dataplane restarted without its control plane has no tables: its liveness device "
          f"stays down ({victim.liveness_state()}) and the host gets no route back")
    t0 = time.time()
    victim.start_controlplane()
    back = lab.wait_router(P_WEB, lambda hs: hs == everyone, HOLD_DOWN + 20, poll=0.05, since=t0)
    check(back is not None, f"its control plane started: {victim.name} back in the route "
                            f"{back and round(back, 2)} s later")
    check(victim.liveness_state() == "up", "its liveness device is up once it has tables")
    measured["cp_start_return_s"] = back and round(back, 2)
    print(f"     ({time.time() - t0:.1f} s)")


def case_bird_killed(lab):
    everyone = {h.i for h in lab.hosts}
    victim = lab.hosts[0]
    took = kill_and_time(lab, victim, "bird")
    check(took is not None and took <= 1.0,
          f"BIRD killed on {victim.name}: the router dropped it {took and round(took, 3)} s later")
    measured["kill9_bird_withdraw_s"] = took and round(took, 3)
    time.sleep(0.5)
    victim.start_bird()
    back = lab.wait_router(P_WEB, lambda hs: hs == everyone, 20, poll=0.05)
    check(back is not None, f"BIRD started again: lb-controlplane re-applied its announcements, "
                            f"{victim.name} back in the route {back and round(back, 2)} s later")
    bird = victim.bgp()["bird"]
    check(bird.get("connected") is True, f"lb-controlplane reconnected to BIRD ({bird.get('error')})")


def body(lab):
    lab.start_all(config(), [VIP_WEB, VIP_WEB6])
    bgp_lab.run_cases(lab, (case_dead_dataplane, case_controlplane_restart,
                            case_controlplane_then_dataplane, case_bird_killed), measured)


def main():
    return bgp_lab.run_bgp_test("bgp_failover", "bf", sys.argv[1], body, failures,
                                hold_down=HOLD_DOWN)


if __name__ == "__main__":
    sys.exit(main())
