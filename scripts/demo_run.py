#!/usr/bin/python3
"""The demo proper (scripts/demo builds first, then runs this): one VIP with
three backends, real HTTP requests from a client, and a drained backend."""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
from sluice_lab import VIP4_HTTP, Lab, backend_addr4  # noqa: E402

VIP_KEY = f"{VIP4_HTTP}:80/tcp"


def say(text=""):
    print(text, flush=True)


def spread(per_backend):
    total = sum(per_backend.values()) or 1
    return "  ".join(f"{name}: {n} ({100 * n / total:.0f}%)"
                     for name, n in sorted(per_backend.items()))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    with Lab(build, "sldemo") as lab:
        say("demo: creating namespaces: client, router, Sluice host, 3 backends")
        lab.up()
        lab.start_backends([VIP4_HTTP])
        say("demo: backends run lb-backend (XDP decapsulation) and an HTTP server")
        lab.start_dataplane()
        lab.start_controlplane()
        say("demo: lb-dataplane (net_af_packet on lb0) and lb-controlplane are up\n")

        say(f"$ lbctl vip add {VIP_KEY}")
        say(lab.lbctl("vip", "add", VIP_KEY).stdout.rstrip())
        for i in (1, 2, 3):
            say(f"$ lbctl backend add {VIP_KEY} be{i} {backend_addr4(i)}")
            lab.lbctl("backend", "add", VIP_KEY, f"be{i}", backend_addr4(i))
        lab.wait_in_sync()
        say(f"$ lbctl backend list {VIP_KEY}")
        say(lab.lbctl("backend", "list", VIP_KEY).stdout.rstrip() + "\n")

        lb_before = lab.link_stats(lab.env["NS_LB"], "lb0")
        client_before = lab.link_stats(lab.env["NS_CLIENT"], "c0")
        r = lab.client("http-many", VIP4_HTTP, 80, 300)
        lb_after = lab.link_stats(lab.env["NS_LB"], "lb0")
        client_after = lab.link_stats(lab.env["NS_CLIENT"], "c0")
        say(f"client: 300 HTTP requests to {VIP4_HTTP}, {r['failures']} failed")
        say(f"  answered by  {spread(r['per_backend'])}")
        lb_in = lb_after["rx_packets"] - lb_before["rx_packets"]
        lb_out = lb_after["tx_packets"] - lb_before["tx_packets"]
        answers = client_after["rx_packets"] - client_before["rx_packets"]
        say(f"  Sluice host lb0: {lb_in} packets in, {lb_out} out (each request packet once, "
            "encapsulated)")
        say(f"  client c0: {answers} answer packets in, none of them through the Sluice host "
            "(DSR)\n")

        say(f"$ lbctl vip show {VIP_KEY}")
        say(lab.lbctl("vip", "show", VIP_KEY).stdout.rstrip() + "\n")

        say(f"$ lbctl backend drain {VIP_KEY} be2")
        say(lab.lbctl("backend", "drain", VIP_KEY, "be2").stdout.rstrip())
        lab.wait_in_sync()
        r = lab.client("http-many", VIP4_HTTP, 80, 300)
        say(f"client: 300 more requests, {r['failures']} failed")
        say(f"  answered by  {spread(r['per_backend'])}   (be2 drained: no new flows)\n")

        say("$ lbctl status")
        say(lab.lbctl("status").stdout.rstrip())
        say("\ndemo: done; removing namespaces and processes")
    return 0


def interrupted(*_):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, interrupted)
    try:
        start = time.time()
        rc = main()
        print(f"demo: finished in {time.time() - start:.0f}s")
        sys.exit(rc)
    except KeyboardInterrupt:
        print("\ndemo: interrupted; cleaned up")
        sys.exit(130)
