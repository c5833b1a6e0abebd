#!/usr/bin/python3
"""Runs the real lb-dataplane on a net_pcap port: client packets in from a
pcap file, encapsulated packets out to a pcap file, checked packet by packet,
and the exit report's counters checked against what was sent.

net_pcap makes up its port's MAC, so the client frames go to LB_MAC, given
to lb-dataplane with --accept-mac (as a VRRP virtual MAC would be); frames
to other MACs, broadcast included, are dropped and counted; what the
dataplane sends carries the port's own MAC, never LB_MAC.

Usage: pcap_forwarding_test.py PATH/TO/lb-dataplane
Needs scapy from Debian's python3-scapy (hence /usr/bin/python3).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from scapy.all import (IP, TCP, UDP, Ether, ICMP, IPv6, ICMPv6EchoReply, ICMPv6EchoRequest,
                       Raw, rdpcap, wrpcap)

CLIENT_MAC = "02:00:00:00:00:aa"
ROUTER_MAC = "02:00:00:00:00:fe"
LB_MAC = "00:00:5e:00:01:0a"
OTHER_HOST_MAC = "02:00:00:00:00:bb"
VIP4, VIP6 = "192.0.2.10", "2001:db8::10"
OUTER4, OUTER6 = "192.0.2.1", "2001:db8::1"
BACKENDS4 = {"198.51.100.1": 1, "198.51.100.2": 1, "198.51.100.3": 2}
BACKENDS6 = {"2001:db8:2::1", "2001:db8:2::2"}
GUE_PORT = 6080

# The one configuration document, as `lbctl config export` prints it (no
# ids: --static-config numbers VIPs and backends as a fresh control plane
# would).
TABLES = {
    "vips": [
        {"address": VIP4, "port": 80, "protocol": "tcp", "encap": "ipip",
         "table_size": 65537,
         "backends": [{"name": f"web-{i}", "address": a, "weight": w, "state": "active"}
                      for i, (a, w) in enumerate(BACKENDS4.items())]},
        {"address": VIP6, "port": 0, "protocol": "udp", "encap": "gue",
         "table_size": 251,
         "backends": [{"name": f"dns-{i}", "address": a, "weight": 1, "state": "active"}
                      for i, a in enumerate(sorted(BACKENDS6))]},
    ]
}

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def build_input():
    pkts = []
    # 600 TCP flows to the IPv4 VIP, each sending a SYN and then two segments.
    for i in range(600):
        client = f"203.0.113.{i % 200 + 1}"
        sport = 20000 + i
        for flags, payload in (("S", b""), ("A", b"hello"), ("PA", b"world!")):
            pkts.append(Ether(src=CLIENT_MAC, dst=LB_MAC) /
                        IP(src=client, dst=VIP4, flags="DF") /
                        TCP(sport=sport, dport=80, flags=flags) / Raw(payload))
    # 50 UDP flows to the all-ports IPv6 VIP, two datagrams each.
    for i in range(50):
        for n in range(2):
            pkts.append(Ether(src=CLIENT_MAC, dst=LB_MAC) /
                        IPv6(src=f"2001:db8:1::{i + 1:x}", dst=VIP6) /
                        UDP(sport=40000 + i, dport=5300 + i) / Raw(b"q%d" % n))
    # Not for us: another address, another port, ARP-less junk.
    pkts.append(Ether(src=CLIENT_MAC, dst=LB_MAC) / IP(src="203.0.113.1", dst="192.0.2.99") /
                TCP(sport=1, dport=80))
    pkts.append(Ether(src=CLIENT_MAC, dst=LB_MAC) / IP(src="203.0.113.1", dst=VIP4) /
                TCP(sport=1, dport=443))
    # Echo requests to each VIP are answered.
    pkts.append(Ether(src=CLIENT_MAC, dst=LB_MAC) / IP(src="203.0.113.7", dst=VIP4) /
                ICMP(id=7, seq=1) / Raw(b"ping"))
    pkts.append(Ether(src=CLIENT_MAC, dst=LB_MAC) / IPv6(src="2001:db8:1::7", dst=VIP6) /
                ICMPv6EchoRequest(id=7, seq=1))
    # Not answered: an echo request with a wrong checksum, one from a
    # broadcast source; not ours: a SYN in a broadcast frame and one to
    # another host's MAC.
    pkts.append(Ether(src=CLIENT_MAC, dst=LB_MAC) / IP(src="203.0.113.7", dst=VIP4) /
                ICMP(id=7, seq=2, chksum=0x1234) / Raw(b"ping"))
    pkts.append(Ether(src=CLIENT_MAC, dst=LB_MAC) / IP(src="255.255.255.255", dst=VIP4) /
                ICMP(id=7, seq=3) / Raw(b"ping"))
    pkts.append(Ether(src=CLIENT_MAC, dst="ff:ff:ff:ff:ff:ff") /
                IP(src="203.0.113.9", dst=VIP4, flags="DF") / TCP(sport=4, dport=80, flags="S"))
    pkts.append(Ether(src=CLIENT_MAC, dst=OTHER_HOST_MAC) /
                IP(src="203.0.113.9", dst=VIP4, flags="DF") / TCP(sport=5, dport=80, flags="S"))
    # A fragment and a TTL-1 packet to the VIP are dropped.
    pkts.append(Ether(src=CLIENT_MAC, dst=LB_MAC) /
                IP(src="203.0.113.8", dst=VIP4, flags="MF") / TCP(sport=2, dport=80))
    pkts.append(Ether(src=CLIENT_MAC, dst=LB_MAC) /
                IP(src="203.0.113.8", dst=VIP4, ttl=1) / TCP(sport=3, dport=80))
    return pkts


def run_dataplane(binary, workdir, in_pcap, out_pcap, tables_path):
    cmd = [binary, "--no-huge", "-m", "256", "--no-pci", "--no-shconf", "-l", "0,1",
           "--log-level", "lib.eal:error",
           f"--vdev=net_pcap0,rx_pcap={in_pcap},tx_pcap={out_pcap}",
           "--", "--static-config", tables_path, "--next-hop-mac", ROUTER_MAC,
           "--accept-mac", LB_MAC,
           "--outer-src-v4", OUTER4, "--outer-src-v6", OUTER6, "--gue-port", str(GUE_PORT),
           "--flows-per-lcore", "65536", "--idle-backoff-us", "200"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir)
    try:
        # net_pcap replays the file once and then reads nothing: give the
        # worker a bounded moment, then stop it the way an operator would.
        deadline = time.time() + 4
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        check(proc.poll() is None, "lb-dataplane exited early")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    sys.stderr.write(err.decode(errors="replace"))
    check(proc.returncode == 0, f"lb-dataplane exit code {proc.returncode}")
    return json.loads(out.decode().strip().splitlines()[-1])


def main():
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory(prefix="sluice-pcap-") as workdir:
        in_pcap = os.path.join(workdir, "in.pcap")
        out_pcap = os.path.join(workdir, "out.pcap")
        tables_path = os.path.join(workdir, "tables.json")
        sent = build_input()
        wrpcap(in_pcap, sent)
        with open(tables_path, "w") as f:
            json.dump(TABLES, f)
        report = run_dataplane(binary, workdir, in_pcap, out_pcap, tables_path)
        out = rdpcap(out_pcap)

    c = report["counters"]
    check(c["rx_packets"] == len(sent), f"rx_packets {c['rx_packets']} != {len(sent)}")
    check(c["fwd_packets"] == 1800 + 100, f"fwd_packets {c['fwd_packets']}")
    check(c["new_flows"] == 650, f"new_flows {c['new_flows']}")
    check(c["conn_hits"] == 1200 + 50, f"conn_hits {c['conn_hits']}")
    check(c["icmp_echo_replies"] == 2, f"icmp_echo_replies {c['icmp_echo_replies']}")
    check(c["not_for_us"] == 2, f"not_for_us {c['not_for_us']}")
    check(c["drop_ipv4_fragment"] == 1, f"drop_ipv4_fragment {c['drop_ipv4_fragment']}")
    check(c["drop_ttl_expired"] == 1, f"drop_ttl_expired {c['drop_ttl_expired']}")
    check(c["drop_icmp_bad_checksum"] == 1,
          f"drop_icmp_bad_checksum {c['drop_icmp_bad_checksum']}")
    check(c["drop_icmp_bad_source"] == 1, f"drop_icmp_bad_source {c['drop_icmp_bad_source']}")
    check(c["not_our_mac_group"] == 1, f"not_our_mac_group {c['not_our_mac_group']}")
    check(c["not_our_mac"] == 1, f"not_our_mac {c['not_our_mac']}")
    check(len(out) == 1902, f"{len(out)} packets in the output pcap, expected 1902")
    # The tables exist before the port starts reading: the very first packet
    # of the replay (a SYN to the IPv4 VIP) is the first one forwarded.
    first = out[0] if len(out) else None
    check(first is not None and IP in first and isinstance(first[IP].payload, IP)
          and bytes(first[IP].payload) == bytes(sent[0][IP]),
          "the first packet of the replay is forwarded first")

    sent_inner = {}
    for p in sent:
        if TCP in p or UDP in p:
            sent_inner.setdefault(bytes(p[IP] if IP in p else p[IPv6]), 0)
    flow_backend = {}
    per_backend = {}
    echo_replies = 0
    # Everything leaves from the port's own MAC: one source MAC in all, never
    # the client's nor the --accept-mac one the client addressed.
    port_macs = {p[Ether].src for p in out}
    check(len(port_macs) == 1 and not port_macs & {CLIENT_MAC, LB_MAC},
          f"output frames come from {sorted(port_macs)}, not from one port MAC")
    for p in out:
        if ICMP in p and p[ICMP].type == 0 or (IPv6 in p and p[IPv6].nh == 58):
            echo_replies += 1
            check(p[Ether].dst == CLIENT_MAC, "echo reply not sent back to the client MAC")
            reply = p[IP] if IP in p else p[IPv6]
            fresh = reply.__class__(bytes(reply))
            if IP in p:
                del fresh[ICMP].chksum
                check(IP(bytes(fresh))[ICMP].chksum == p[ICMP].chksum, "echo reply checksum")
            else:
                del fresh[ICMPv6EchoReply].cksum
                check(IPv6(bytes(fresh))[ICMPv6EchoReply].cksum == p[ICMPv6EchoReply].cksum,
                      "ICMPv6 echo reply checksum")
            continue
        check(p[Ether].dst == ROUTER_MAC, "encapsulated frame not sent to the next hop")
        if IP in p and p[IP].proto == 4:
            outer = p[IP]
            check(outer.src == OUTER4, f"outer source {outer.src}")
            check(outer.flags.DF, "outer DF not set")
            check(outer.ttl == 64, "outer TTL")
            inner = bytes(outer.payload)
            fresh = IP(bytes(outer))
            del fresh.chksum
            check(IP(bytes(fresh)).chksum == outer.chksum, "outer IPv4 checksum")
            backend = outer.dst
            check(backend in BACKENDS4, f"unknown backend {backend}")
            key = IP(inner)[TCP].sport
        elif IPv6 in p and p[IPv6].nh == 17 and p[UDP].dport == GUE_PORT:
            outer = p[IPv6]
            check(outer.src == OUTER6, f"outer source {outer.src}")
            check(p[UDP].sport >= 0x8000, "GUE source port outside 32768-65535")
            recomputed = IPv6(bytes(outer))
            del recomputed[UDP].chksum
            check(IPv6(bytes(recomputed))[UDP].chksum == p[UDP].chksum, "GUE UDP checksum")
            inner = bytes(p[UDP].payload)
            backend = outer.dst
            check(backend in BACKENDS6, f"unknown backend {backend}")
            key = IPv6(inner)[UDP].sport
        else:
            check(False, f"unexpected output packet {p.summary()}")
            continue
        check(inner in sent_inner, "inner packet differs from what the client sent")
        check(flow_backend.setdefault(key, backend) == backend,
              f"flow {key} went to two backends")
        per_backend[backend] = per_backend.get(backend, 0) + 1
    check(echo_replies == 2, f"{echo_replies} echo replies")
    # Weighted shares over 600 flows (1:1:2); loose bounds, Maglev is exact
    # only over the whole hash space.
    total4 = sum(per_backend.get(a, 0) for a in BACKENDS4)
    for addr, weight in BACKENDS4.items():
        share = per_backend.get(addr, 0) / total4
        want = weight / sum(BACKENDS4.values())
        check(abs(share - want) < 0.08, f"backend {addr} share {share:.3f}, want {want:.3f}")
    per_backend_report = {v["address"]: v["packets"] for v in report["backends"].values()}
    for addr, n in per_backend.items():
        check(per_backend_report.get(addr) == n,
              f"report says {per_backend_report.get(addr)} packets for {addr}, pcap has {n}")

    if failures:
        print(f"pcap forwarding: {len(failures)} checks failed")
        return 1
    print("pcap forwarding: all checks passed "
          f"({len(out)} packets out, shares {sorted(per_backend.items())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
