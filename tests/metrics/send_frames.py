"""Sends the metrics test's frames from the router's veth toward the Sluice
host's MAC (run inside the router's namespace with Debian's scapy): a burst
of UDP packets to a VIP with backends, and COUNT frames of each kind that
the dataplane must count under one reason. Prints, as JSON, what it sent:
{"burst": N, "frames": {counter: count}}.

Usage: send_frames.py IFACE LB_MAC SRC_MAC BURST COUNT
"""
import json
import sys

from scapy.all import (ICMP, IP, UDP, Dot1Q, Ether, IPv6, IPv6ExtHdrFragment,
                       IPv6ExtHdrRouting, IPOption_NOP, Raw, raw, sendp)

VIP = "192.0.2.12"          # UDP 53, with backends
VIP_EMPTY = "192.0.2.13"    # UDP 53, no backend
VIP6 = "2001:db8::12"       # UDP 53, with a backend
CLIENT = "203.0.113.10"
CLIENT6 = "2001:db8:c::10"


def main():
    iface, lb_mac, src_mac = sys.argv[1], sys.argv[2], sys.argv[3]
    burst, count = int(sys.argv[4]), int(sys.argv[5])
    eth = Ether(dst=lb_mac, src=src_mac)
    udp = UDP(sport=40000, dport=53) / Raw(b"q" * 16)

    def bad_ihl():
        b = bytearray(raw(IP(src=CLIENT, dst=VIP) / udp))
        b[0] = 0x44  # IHL 4: shorter than an IPv4 header
        return Ether(dst=lb_mac, src=src_mac, type=0x0800) / Raw(bytes(b))

    # The quoted packet of an ICMP error: one the VIP sent to the client.
    def quoted(src, size=0):
        return IP(src=src, dst=CLIENT, flags="DF") / UDP(sport=53, dport=40000) / Raw(b"r" * size)

    frames = {
        "drop_truncated": eth / IP(src=CLIENT, dst=VIP, len=400) / udp,
        "drop_bad_l3_header": bad_ihl(),
        "drop_ipv4_options": eth / IP(src=CLIENT, dst=VIP, options=[IPOption_NOP()] * 4) / udp,
        "drop_ipv6_fragment": eth / IPv6(src=CLIENT6, dst=VIP6) / IPv6ExtHdrFragment() / udp,
        "drop_ipv6_ext_header": eth / IPv6(src=CLIENT6, dst=VIP6) / IPv6ExtHdrRouting() / udp,
        "drop_ttl_expired": eth / IP(src=CLIENT, dst=VIP, ttl=1) / udp,
        "drop_vlan_stacked": eth / Dot1Q(vlan=10) / Dot1Q(vlan=20) / IP(src=CLIENT, dst=VIP) / udp,
        "drop_no_backend": eth / IP(src=CLIENT, dst=VIP_EMPTY) / udp,
        "drop_icmp_unsupported": eth / IP(src=CLIENT, dst=VIP) / ICMP(type=13),
        "drop_icmp_error_no_flow":
            eth / IP(src=CLIENT, dst=VIP) / ICMP(type=3, code=1) / quoted(VIP_EMPTY),
        "drop_icmp_bad_checksum": eth / IP(src=CLIENT, dst=VIP) / ICMP(type=8, chksum=0x1234),
        "drop_icmp_bad_code": eth / IP(src=CLIENT, dst=VIP) / ICMP(type=8, code=1),
        "drop_icmp_bad_source": eth / IP(src="224.0.0.5", dst=VIP) / ICMP(type=8),
        # An ICMP error about a VIP flow that would not fit once encapsulated.
        "drop_too_big":
            eth / IP(src=CLIENT, dst=VIP) / ICMP(type=3, code=1) / quoted(VIP, 1440),
        "drop_too_big_may_fragment":
            eth / IP(src=CLIENT, dst=VIP, flags=0) / UDP(sport=40001, dport=53) / Raw(b"b" * 1460),
        "icmp_echo_replies": eth / IP(src=CLIENT, dst=VIP) / ICMP(type=8, id=7, seq=1),
        "not_our_mac": Ether(dst="02:00:00:00:99:99", src=src_mac) / IP(src=CLIENT, dst=VIP) / udp,
    }
    sent = {}
    for name, frame in frames.items():
        sendp([frame] * count, iface=iface, verbose=False)
        sent[name] = count
    # The burst: one new flow per packet (source ports differ), DF set.
    pkts = [eth / IP(src=CLIENT, dst=VIP, flags="DF") / UDP(sport=20000 + i, dport=53) /
            Raw(b"x" * 32) for i in range(burst)]
    sendp(pkts, iface=iface, verbose=False)
    print(json.dumps({"burst": burst, "frames": sent}))


if __name__ == "__main__":
    main()
