// tc egress program of the through-the-tunnel health probe (DESIGN.md
// section 5; the way Katran's healthchecking works): a probe socket carries
// a mark (SO_MARK), one per backend; its packets, addressed to the VIP,
// leave here encapsulated toward that backend exactly as the dataplane
// encapsulates client traffic (IPIP or GUE variant 1), so a pass proves
// that the backend decapsulates and serves the VIP. The backend answers
// from the VIP straight to us (DSR). Needed because this kernel has no
// ipip/fou drivers. Packets without a known mark pass untouched.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "tunnel_shared.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, struct tunnel_dest);
} tunnel_dests SEC(".maps");

static __always_inline __u16 ipv4_csum(struct iphdr *ip) {
  __u32 sum = 0;
  __u16 *p = (__u16 *)ip;
#pragma clang loop unroll(full)
  for (int i = 0; i < (int)(sizeof(*ip) / 2); i++) sum += p[i];
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (__u16)~sum;
}

// The frame's next hop is the VIP's route's; the backend's may differ (on
// the same link, say): ask the kernel's FIB for the outer destination.
static __always_inline int set_next_hop(struct __sk_buff *skb, const struct tunnel_dest *d,
                                        const void *src) {
  struct bpf_fib_lookup fib = {};
  fib.ifindex = skb->ifindex;
  if (d->family == 4) {
    fib.family = AF_INET;
    __builtin_memcpy(&fib.ipv4_src, src, 4);
    __builtin_memcpy(&fib.ipv4_dst, d->addr, 4);
  } else {
    fib.family = AF_INET6;
    __builtin_memcpy(fib.ipv6_src, src, 16);
    __builtin_memcpy(fib.ipv6_dst, d->addr, 16);
  }
  int rc = bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT);
  if (rc != BPF_FIB_LKUP_RET_SUCCESS) return 0;  // keep the VIP route's next hop
  if (fib.ifindex != skb->ifindex) return 0;
  bpf_skb_store_bytes(skb, 0, fib.dmac, ETH_ALEN, 0);
  bpf_skb_store_bytes(skb, ETH_ALEN, fib.smac, ETH_ALEN, 0);
  return 0;
}

static __always_inline int encap_v4(struct __sk_buff *skb, const struct tunnel_dest *d) {
  struct iphdr inner;
  if (bpf_skb_load_bytes(skb, ETH_HLEN, &inner, sizeof(inner)) < 0) return TC_ACT_SHOT;
  const int gue = d->encap == TUNNEL_GUE;
  const __u32 room = sizeof(struct iphdr) + (gue ? sizeof(struct udphdr) : 0);
  __u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4;
  if (gue) flags |= BPF_F_ADJ_ROOM_ENCAP_L4_UDP;
  const __u16 inner_len = bpf_ntohs(inner.tot_len);
  if (bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_MAC, flags) < 0) return TC_ACT_SHOT;

  struct iphdr outer = {};
  outer.version = 4;
  outer.ihl = 5;
  outer.tos = inner.tos;
  outer.tot_len = bpf_htons(inner_len + room);
  outer.frag_off = bpf_htons(0x4000);  // DF, as the dataplane sends
  outer.ttl = 64;
  outer.protocol = gue ? IPPROTO_UDP : IPPROTO_IPIP;
  outer.saddr = inner.saddr;
  __builtin_memcpy(&outer.daddr, d->addr, 4);
  outer.check = ipv4_csum(&outer);
  if (bpf_skb_store_bytes(skb, ETH_HLEN, &outer, sizeof(outer), 0) < 0) return TC_ACT_SHOT;
  if (gue) {
    struct udphdr udp = {};
    udp.source = bpf_htons(49152 | (bpf_get_hash_recalc(skb) & 0x3fff));
    udp.dest = d->gue_port_be;
    udp.len = bpf_htons(inner_len + sizeof(struct udphdr));
    udp.check = 0;  // optional over IPv4
    if (bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(outer), &udp, sizeof(udp), 0) < 0) {
      return TC_ACT_SHOT;
    }
  }
  set_next_hop(skb, d, &inner.saddr);
  return TC_ACT_OK;
}

static __always_inline int encap_v6(struct __sk_buff *skb, const struct tunnel_dest *d) {
  struct ipv6hdr inner;
  if (bpf_skb_load_bytes(skb, ETH_HLEN, &inner, sizeof(inner)) < 0) return TC_ACT_SHOT;
  const int gue = d->encap == TUNNEL_GUE;
  const __u32 room = sizeof(struct ipv6hdr) + (gue ? sizeof(struct udphdr) : 0);
  __u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV6;
  if (gue) flags |= BPF_F_ADJ_ROOM_ENCAP_L4_UDP;
  const __u16 inner_len = bpf_ntohs(inner.payload_len) + sizeof(struct ipv6hdr);
  if (bpf_skb_adjust_room(skb, room, BPF_ADJ_ROOM_MAC, flags) < 0) return TC_ACT_SHOT;

  struct ipv6hdr outer = {};
  outer.version = 6;
  outer.payload_len = bpf_htons(inner_len + (gue ? sizeof(struct udphdr) : 0));
  outer.nexthdr = gue ? IPPROTO_UDP : IPPROTO_IPV6;
  outer.hop_limit = 64;
  outer.saddr = inner.saddr;
  __builtin_memcpy(&outer.daddr, d->addr, 16);
  if (bpf_skb_store_bytes(skb, ETH_HLEN, &outer, sizeof(outer), 0) < 0) return TC_ACT_SHOT;
  if (gue) {
    struct udphdr udp = {};
    udp.source = bpf_htons(49152 | (bpf_get_hash_recalc(skb) & 0x3fff));
    udp.dest = d->gue_port_be;
    udp.len = bpf_htons(inner_len + sizeof(struct udphdr));
    // Zero over IPv6 (RFC 6935/6936, as for tunnels): the backend's
    // decapsulation does not read it.
    udp.check = 0;
    if (bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(outer), &udp, sizeof(udp), 0) < 0) {
      return TC_ACT_SHOT;
    }
  }
  set_next_hop(skb, d, &inner.saddr);
  return TC_ACT_OK;
}

SEC("tc")
int sluice_tunnel_encap(struct __sk_buff *skb) {
  const __u32 mark = skb->mark;
  if ((mark & TUNNEL_MARK_MASK) != TUNNEL_MARK_BASE) return TC_ACT_OK;
  const struct tunnel_dest *d = bpf_map_lookup_elem(&tunnel_dests, &mark);
  if (!d) return TC_ACT_OK;
  if (skb->protocol == bpf_htons(ETH_P_IP) && d->family == 4) return encap_v4(skb, d);
  if (skb->protocol == bpf_htons(ETH_P_IPV6) && d->family == 6) return encap_v6(skb, d);
  // A marked probe we cannot carry (the VIP and the backend of different
  // families) must not leave unencapsulated: it would reach the VIP's
  // other path and pass for the wrong reason.
  return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
