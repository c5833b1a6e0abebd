// SPDX-License-Identifier: GPL-2.0
// Backend-side decapsulation for Sluice (DESIGN.md section 7): strips the
// outer IPIP (v4-in-v4, v6-in-v6, v4-in-v6, v6-in-v4) or GUE variant 1
// (IP directly in UDP to gue_port) headers of packets addressed to this host
// and passes the inner packet to the kernel, which delivers it to the VIP
// on lo. Everything else passes untouched. Runs as XDP on the backend's
// interface; no tunnel driver needed.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "decap_shared.h"

// Set by the loader before the program is loaded (network byte order).
const volatile __u16 gue_port_be = 0;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, struct decap_local_addr);
  __type(value, __u8);
} local_addrs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, DECAP_STAT_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} decap_stats SEC(".maps");

static __always_inline void count(__u32 stat) {
  __u64 *v = bpf_map_lookup_elem(&decap_stats, &stat);
  if (v) *v += 1;
}

static __always_inline int is_local(__u8 family, const void *addr) {
  struct decap_local_addr key = {};
  key.family = family;
  if (family == 4)
    __builtin_memcpy(key.addr, addr, 4);
  else
    __builtin_memcpy(key.addr, addr, 16);
  return bpf_map_lookup_elem(&local_addrs, &key) != NULL;
}

// Removes `overhead` bytes after the Ethernet header and sets the Ethernet
// type for the inner packet.
static __always_inline int strip(struct xdp_md *ctx, __u32 overhead, __u16 inner_proto) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr eth;
  if (data + sizeof(eth) > end) return XDP_DROP;
  __builtin_memcpy(&eth, data, sizeof(eth));
  eth.h_proto = inner_proto;
  if (bpf_xdp_adjust_head(ctx, (int)overhead)) return XDP_DROP;
  data = (void *)(long)ctx->data;
  end = (void *)(long)ctx->data_end;
  if (data + sizeof(eth) > end) return XDP_DROP;
  __builtin_memcpy(data, &eth, sizeof(eth));
  return XDP_PASS;
}

// The inner header's version nibble decides its family (GUE variant 1).
static __always_inline int inner_version(void *inner, void *end) {
  if (inner + 1 > end) return 0;
  return (*(__u8 *)inner) >> 4;
}

static __always_inline int decap_payload(struct xdp_md *ctx, void *payload, void *end,
                                         __u32 outer_len, __u8 proto, __u32 stat) {
  __u32 overhead = outer_len;
  if (proto == IPPROTO_UDP) {
    struct udphdr *udp = payload;
    if ((void *)(udp + 1) > end) return XDP_PASS;
    if (gue_port_be == 0 || udp->dest != gue_port_be) return XDP_PASS;
    overhead += sizeof(*udp);
    payload = udp + 1;
    stat = DECAP_STAT_GUE;
  } else if (proto != IPPROTO_IPIP && proto != IPPROTO_IPV6) {
    return XDP_PASS;
  }
  int version = inner_version(payload, end);
  if (proto == IPPROTO_IPIP && version != 4) version = 0;
  if (proto == IPPROTO_IPV6 && version != 6) version = 0;
  if (version == 4) {
    if (payload + sizeof(struct iphdr) > end) version = 0;
  } else if (version == 6) {
    if (payload + sizeof(struct ipv6hdr) > end) version = 0;
  }
  if (version == 0) {
    count(DECAP_STAT_MALFORMED);
    return XDP_DROP;
  }
  count(stat);
  return strip(ctx, overhead, version == 4 ? bpf_htons(ETH_P_IP) : bpf_htons(ETH_P_IPV6));
}

SEC("xdp")
int sluice_decap(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) goto pass;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end) goto pass;
    // Sluice never sends outer options or fragments (it sets DF).
    if (ip->ihl != 5 || (ip->frag_off & bpf_htons(0x3FFF))) goto pass;
    if (!is_local(4, &ip->daddr)) goto pass;
    int verdict = decap_payload(ctx, ip + 1, end, sizeof(*ip), ip->protocol, DECAP_STAT_IPIP4);
    if (verdict != XDP_PASS || (void *)(long)ctx->data != data) return verdict;
    goto pass;
  }
  if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr *ip6 = (void *)(eth + 1);
    if ((void *)(ip6 + 1) > end) goto pass;
    if (!is_local(6, &ip6->daddr)) goto pass;
    int verdict = decap_payload(ctx, ip6 + 1, end, sizeof(*ip6), ip6->nexthdr, DECAP_STAT_IPIP6);
    if (verdict != XDP_PASS || (void *)(long)ctx->data != data) return verdict;
    goto pass;
  }
pass:
  count(DECAP_STAT_PASSED);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
