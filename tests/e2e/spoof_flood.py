#!/usr/bin/python3
"""Spoofed TCP segments toward a VIP, for the end-to-end tests: COUNT
distinct flows (source addresses from SRC_NET, random source ports), one
segment each, built once with correct checksums and then sent from a raw
AF_PACKET socket at a bounded rate. Run inside the client's namespace;
prints {"sending": COUNT} when the frames are built and sending starts,
then {"sent", "seconds", "pps"}, one JSON document a line.

  spoof_flood.py IFACE DST_MAC DST_IP DST_PORT SRC_NET COUNT FLAGS RATE SEED

FLAGS is "syn" (a client opening) or "ack" (a segment of a flow under way).
RATE is in packets per second (0: as fast as the socket takes them). Only
the documentation prefix the caller names is used for sources; the caller
makes sure nothing answers them outside the lab. Bounded: COUNT frames, and
at most 60 seconds of sending.
"""
import ipaddress
import json
import random
import socket
import struct
import sys
import time

TCP_FLAGS = {"syn": 0x02, "ack": 0x10}


def fold(s):
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def words(b):
    return sum(struct.unpack(f"!{len(b) // 2}H", b))


def build_frames(src_mac, dst_mac, dst_ip, dst_port, src_net, count, flags, seed):
    net = ipaddress.ip_network(src_net)
    hosts = net.num_addresses
    ports = 65536 - 1024
    if count > hosts * ports:
        raise SystemExit(f"{src_net} has fewer than {count} (address, port) pairs")
    rng = random.Random(seed)
    picks = rng.sample(range(hosts * ports), count)  # distinct flows
    eth = dst_mac + src_mac + b"\x08\x00"
    dst = socket.inet_aton(dst_ip)
    base = int(net.network_address)
    flag = TCP_FLAGS[flags]
    # Constant parts of the checksums: the IP header without source and
    # checksum, and the pseudo-header's destination, protocol and length.
    ip_const = words(struct.pack("!BBHHHBBH4s", 0x45, 0, 40, 0, 0x4000, 64, 6, 0, dst))
    pseudo_const = words(dst) + 6 + 20
    frames = []
    for p in picks:
        src_int = base + p // ports
        sport = 1024 + p % ports
        src = struct.pack("!I", src_int)
        seq = rng.getrandbits(32)
        ack = rng.getrandbits(32) if flag & 0x10 else 0
        src_sum = (src_int >> 16) + (src_int & 0xFFFF)
        ip_sum = 0xFFFF - fold(ip_const + src_sum)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 0, 0x4000, 64, 6, ip_sum, src, dst)
        tcp = struct.pack("!HHIIBBHHH", sport, dst_port, seq, ack, 5 << 4, flag, 64240, 0, 0)
        tcp_sum = 0xFFFF - fold(pseudo_const + src_sum + words(tcp))
        frames.append(eth + ip + tcp[:16] + struct.pack("!H", tcp_sum) + tcp[18:])
    return frames


def main():
    iface, dst_mac, dst_ip, dst_port, src_net, count, flags, rate, seed = sys.argv[1:10]
    count, rate = int(count), float(rate)
    with open(f"/sys/class/net/{iface}/address") as f:
        src_mac = bytes.fromhex(f.read().strip().replace(":", ""))
    frames = build_frames(src_mac, bytes.fromhex(dst_mac.replace(":", "")), dst_ip,
                          int(dst_port), src_net, count, flags, int(seed))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    print(json.dumps({"sending": len(frames)}), flush=True)
    sent, chunk = 0, 256
    start = time.time()
    deadline = start + 60
    for i in range(0, len(frames), chunk):
        if time.time() > deadline:
            break
        for frame in frames[i:i + chunk]:
            try:
                s.send(frame)
                sent += 1
            except BlockingIOError:
                pass
            except OSError:  # ENOBUFS: the device queue is full; the frame is lost
                pass
        if rate > 0:
            ahead = start + (i + chunk) / rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
    seconds = time.time() - start
    print(json.dumps({"sent": sent, "seconds": round(seconds, 3),
                      "pps": round(sent / seconds) if seconds > 0 else 0}))


if __name__ == "__main__":
    main()
