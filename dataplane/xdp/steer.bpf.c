// SPDX-License-Identifier: GPL-2.0
// AF_XDP steering for lb-dataplane (DESIGN.md section 6): on a kernel-owned
// interface, hand the dataplane's AF_XDP sockets exactly the packets its
// workers act on (dataplane/packet_parse.h) and pass everything else (ARP,
// neighbour discovery, BGP, the host's own traffic) to the kernel:
//   - TCP/UDP to a VIP (address, port, protocol; or the address's
//     all-ports VIP for that protocol);
//   - ICMP/ICMPv6 echo requests and errors (v4: unreachable, time exceeded;
//     v6: unreachable, packet too big, time exceeded) to a VIP address. In
//     DSR an error about a backend's reply goes to that reply's source, the
//     VIP, so "to a VIP address" covers the errors the worker hashes to a
//     flow;
//   - IPv4 fragments and options, IPv6 fragments and routing headers, to a
//     VIP address: the worker drops them with a counter of the VIP's, which
//     is where an operator looks for them (the kernel would drop them
//     silently: it does not own the VIP).
// One VLAN tag at most, like the worker; group-addressed frames always
// pass (the worker never takes them). The map of VIP keys is kept equal to
// the dataplane's published tables by its main lcore (xdp_steering.cc).
//
// Loaded by DPDK's net_af_xdp through its xdp_prog= devarg, which puts one
// socket per RX queue in xsks_map.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "steer_shared.h"

struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, SLUICE_STEER_MAX_QUEUES);
  __type(key, __u32);
  __type(value, __u32);
} xsks_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SLUICE_STEER_MAX_KEYS);
  __type(key, struct sluice_vip_key);
  __type(value, __u8);
} sluice_vips SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, SLUICE_STEER_STAT_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} sluice_stats SEC(".maps");

#define VLAN_TPID 0x8100
#define IPV6_EXT_HOP_BY_HOP 0
#define IPV6_EXT_ROUTING 43
#define IPV6_EXT_FRAGMENT 44
#define IPV6_EXT_DEST_OPTS 60

static __always_inline void count(__u32 stat) {
  __u64 *v = bpf_map_lookup_elem(&sluice_stats, &stat);
  if (v) *v += 1;
}

static __always_inline int pass(void) {
  count(SLUICE_STEER_PASSED);
  return XDP_PASS;
}

static __always_inline int redirect(struct xdp_md *ctx) {
  // XDP_PASS when the queue has no socket: the packet is not lost.
  const long action = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
  if (action == XDP_REDIRECT) {
    count(SLUICE_STEER_REDIRECTED);
  } else {
    count(SLUICE_STEER_NO_SOCKET);
  }
  return (int)action;
}

static __always_inline int known(struct sluice_vip_key *key, __u16 port_be, __u8 protocol) {
  key->port_be = port_be;
  key->protocol = protocol;
  return bpf_map_lookup_elem(&sluice_vips, key) != NULL;
}

// The worker's VipIndex::find: the exact port, then the all-ports VIP.
static __always_inline int is_vip(struct sluice_vip_key *key, __u16 port_be, __u8 protocol) {
  if (known(key, port_be, protocol)) return 1;
  return port_be != 0 && known(key, 0, protocol);
}

// VipIndex::has_address.
static __always_inline int is_vip_address(struct sluice_vip_key *key) { return known(key, 0, 0); }

static __always_inline int icmp_we_take(__u8 family, __u8 type) {
  if (family == 4) return type == 8 || type == 3 || type == 11;
  return type == 128 || type == 1 || type == 2 || type == 3;
}

// From the L4 header on: what the worker's classify_l4 acts on.
static __always_inline int steer_l4(struct xdp_md *ctx, struct sluice_vip_key *key, void *l4,
                                    void *end, __u8 protocol) {
  if (protocol == IPPROTO_TCP || protocol == IPPROTO_UDP) {
    __u16 *ports = l4;
    if ((void *)(ports + 2) > end) return pass();
    return is_vip(key, ports[1], protocol) ? redirect(ctx) : pass();
  }
  const __u8 icmp = key->family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
  if (protocol != icmp) return pass();
  __u8 *type = l4;
  if ((void *)(type + 1) > end) return pass();
  return icmp_we_take(key->family, *type) && is_vip_address(key) ? redirect(ctx) : pass();
}

static __always_inline int steer_ipv4(struct xdp_md *ctx, struct sluice_vip_key *key, void *l3,
                                      void *end) {
  struct iphdr *ip = l3;
  if ((void *)(ip + 1) > end) return pass();
  key->family = 4;
  __builtin_memcpy(key->address, &ip->daddr, 4);
  // Options or a fragment: only the address counts (parse_ipv4).
  if (ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3FFF)) != 0) {
    return is_vip_address(key) ? redirect(ctx) : pass();
  }
  return steer_l4(ctx, key, ip + 1, end, ip->protocol);
}

static __always_inline int steer_ipv6(struct xdp_md *ctx, struct sluice_vip_key *key, void *l3,
                                      void *end) {
  struct ipv6hdr *ip = l3;
  if ((void *)(ip + 1) > end) return pass();
  key->family = 6;
  __builtin_memcpy(key->address, &ip->daddr, 16);
  // The worker skips at most 4 hop-by-hop / destination options headers.
  __u8 next = ip->nexthdr;
  __u8 *off = (__u8 *)(ip + 1);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if (next != IPV6_EXT_HOP_BY_HOP && next != IPV6_EXT_DEST_OPTS) break;
    if ((void *)(off + 8) > end) return pass();
    next = off[0];
    off += (off[1] + 1) * 8;
  }
  if (next == IPV6_EXT_FRAGMENT || next == IPV6_EXT_ROUTING || next == IPV6_EXT_HOP_BY_HOP ||
      next == IPV6_EXT_DEST_OPTS) {
    return is_vip_address(key) ? redirect(ctx) : pass();
  }
  return steer_l4(ctx, key, off, end, next);
}

SEC("xdp")
int sluice_steer(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) return pass();
  // Broadcast and multicast (ARP requests, ND, routing protocols).
  if (eth->h_dest[0] & 1) return pass();
  __u16 type = eth->h_proto;
  void *l3 = eth + 1;
  if (type == bpf_htons(VLAN_TPID)) {
    __u16 *tag = l3;
    if ((void *)(tag + 2) > end) return pass();
    type = tag[1];
    l3 = tag + 2;
  }
  struct sluice_vip_key key = {};
  if (type == bpf_htons(ETH_P_IP)) return steer_ipv4(ctx, &key, l3, end);
  if (type == bpf_htons(ETH_P_IPV6)) return steer_ipv6(ctx, &key, l3, end);
  return pass();
}

char _license[] SEC("license") = "GPL";
