#!/usr/bin/python3
"""lb-dataplane with a separate egress port (--egress-port) on two net_pcap
ports: client frames addressed to the ingress port's own MAC are accepted
without any --accept-mac (the dataplane adds that MAC itself), forwarded
out of the egress port from the egress port's MAC to the next hop; a frame
for another host's MAC is still dropped and counted.

The ports' MACs come from `lbctl status` (a first run with lb-controlplane
attached), not from knowledge of the driver. Also checked: 16 --accept-mac
with --egress-port are refused (the ingress MAC takes a slot), and
`lbctl status` lists both ports, ingress first.

Usage: egress_port_test.py LB_DATAPLANE LB_CONTROLPLANE LBCTL
Needs scapy from Debian's python3-scapy (hence /usr/bin/python3). Processes
are ended by PID in finally blocks; the temporary directory is removed.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import IP, TCP, Ether, Raw, rdpcap, wrpcap

CLIENT_MAC = "02:00:00:00:00:aa"
ROUTER_MAC = "02:00:00:00:00:fe"
OTHER_HOST_MAC = "02:00:00:00:00:bb"
VIP, OUTER = "192.0.2.10", "192.0.2.1"
BACKENDS = ["198.51.100.1", "198.51.100.2"]
FLOWS = 20
TABLES = {"vips": [{"address": VIP, "port": 80, "protocol": "tcp", "encap": "ipip",
                    "table_size": 251,
                    "backends": [{"name": f"web-{i}", "address": a}
                                 for i, a in enumerate(BACKENDS)]}]}

failures = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures.append(what)


def dataplane_cmd(binary, tmp, in_pcap, instance, *extra):
    return [binary, "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "-l", "0,1",
            "--log-level", "lib.eal:error",
            f"--vdev=net_pcap0,rx_pcap={in_pcap},tx_pcap={tmp}/out0.pcap",
            f"--vdev=net_pcap1,rx_pcap={tmp}/empty.pcap,tx_pcap={tmp}/out1.pcap",
            "--", "--instance", instance, "--port", "0", "--egress-port", "1",
            "--next-hop-mac", ROUTER_MAC, "--outer-src-v4", OUTER,
            "--flows-per-lcore", "1024", "--idle-backoff-us", "200", *extra]


def stop(proc):
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def port_macs(dp_bin, cp_bin, lbctl, tmp, instance):
    """The two ports as `lbctl status -o json` shows them."""
    sock = os.path.join(tmp, "cp.sock")
    dp = cp = None
    try:
        dp = subprocess.Popen(dataplane_cmd(dp_bin, tmp, f"{tmp}/empty.pcap", instance),
                              stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/probe-dp.log", "wb"))
        cp = subprocess.Popen([cp_bin, "--instance", instance, "--socket", sock,
                               "--state-file", os.path.join(tmp, "state.json")],
                              stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/probe-cp.log", "wb"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            r = subprocess.run([lbctl, "--socket", sock, "-o", "json", "status"],
                               capture_output=True, text=True)
            if r.returncode == 0:
                status = json.loads(r.stdout)
                if status["dataplane"].get("attached") and status["dataplane"].get("ports"):
                    text = subprocess.run([lbctl, "--socket", sock, "status"],
                                          capture_output=True, text=True).stdout
                    return status["dataplane"]["ports"], text
            if dp.poll() is not None or cp.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError("no port list from lbctl status:\n" +
                           open(f"{tmp}/probe-dp.log").read() +
                           open(f"{tmp}/probe-cp.log").read())
    finally:
        stop(cp)
        stop(dp)


def main():
    dp_bin, cp_bin, lbctl = (os.path.abspath(a) for a in sys.argv[1:4])
    tmp = tempfile.mkdtemp(prefix="sluice-egress-")
    instance = f"egress-{os.getpid()}"
    proc = None
    try:
        wrpcap(f"{tmp}/empty.pcap", [], linktype=1)  # an RX file that holds nothing
        ports, text = port_macs(dp_bin, cp_bin, lbctl, tmp, instance)
        check([p["name"] for p in ports] == ["net_pcap0", "net_pcap1"] and
              [p["port_id"] for p in ports] == [0, 1],
              f"status lists the ingress port, then the egress port: {ports}")
        check("  port 0:" in text and "  port 1:" in text, "lbctl status prints both port lines")
        ingress_mac, egress_mac = ports[0]["mac"], ports[1]["mac"]
        check(ingress_mac != egress_mac, f"two MACs: {ingress_mac}, {egress_mac}")

        pkts = [Ether(src=CLIENT_MAC, dst=ingress_mac) /
                IP(src=f"203.0.113.{i + 1}", dst=VIP) / TCP(sport=40000 + i, dport=80, flags="S") /
                Raw(b"sluice") for i in range(FLOWS)]
        pkts.append(Ether(src=CLIENT_MAC, dst=OTHER_HOST_MAC) / IP(src="203.0.113.99", dst=VIP) /
                    TCP(sport=40999, dport=80, flags="S"))
        wrpcap(f"{tmp}/in.pcap", pkts)
        with open(f"{tmp}/tables.json", "w") as f:
            json.dump(TABLES, f)
        proc = subprocess.Popen(
            dataplane_cmd(dp_bin, tmp, f"{tmp}/in.pcap", instance,
                          "--static-config", f"{tmp}/tables.json"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(3)  # net_pcap replays the file once, then reads nothing
        check(proc.poll() is None, "lb-dataplane runs")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        sys.stderr.write(err.decode(errors="replace"))
        check(proc.returncode == 0, f"exit code {proc.returncode}")
        c = json.loads(out.decode().strip().splitlines()[-1])["counters"]
        check(c["rx_packets"] == FLOWS + 1, f"rx_packets {c['rx_packets']}")
        check(c["fwd_packets"] == FLOWS,
              f"every frame to the ingress port's MAC is forwarded: fwd_packets {c['fwd_packets']}")
        check(c["not_our_mac"] == 1, f"the other host's frame is dropped: not_our_mac "
              f"{c['not_our_mac']}")

        sent = rdpcap(f"{tmp}/out1.pcap")
        check(len(sent) == FLOWS, f"{len(sent)} frames left by the egress port")
        check(all(p[Ether].src == egress_mac and p[Ether].dst == ROUTER_MAC for p in sent),
              "from the egress port's MAC to the next hop")
        check(all(IP in p and p[IP].proto == 4 and p[IP].src == OUTER and p[IP].dst in BACKENDS
                  for p in sent), "IPIP to the backends")
        back = rdpcap(f"{tmp}/out0.pcap") if os.path.getsize(f"{tmp}/out0.pcap") > 24 else []
        check(len(back) == 0, f"nothing left by the ingress port ({len(back)} frames)")

        # The ingress MAC takes one of the 16 --accept-mac slots.
        many = []
        for i in range(16):
            many += ["--accept-mac", f"02:00:00:00:01:{i:02x}"]
        r = subprocess.run(dataplane_cmd(dp_bin, tmp, f"{tmp}/empty.pcap", instance, *many),
                           capture_output=True, text=True, timeout=60)
        check(r.returncode == 2 and "at most 15 with --egress-port" in r.stderr,
              f"16 --accept-mac with --egress-port are refused (exit {r.returncode})")
    finally:
        stop(proc)
        try:
            os.unlink(f"/dev/shm/sluice-{instance}")
        except FileNotFoundError:
            pass
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
