/* The contract between the AF_XDP steering program (steer.bpf.c) and
 * lb-dataplane (dataplane/xdp_steering.cc): the names and layouts of the
 * maps they share. Plain C with kernel types so that clang -target bpf and
 * the C++ build both read it.
 *
 * sluice_vips mirrors the keys of the published tables' VipIndex
 * (common/vip_index.h) one for one: a VIP's exact key (address, port,
 * protocol; port 0 for an all-ports VIP) and its address marker (port 0,
 * protocol 0). The program asks it the worker's questions, in the worker's
 * order, so the matching rule stays written once. Only the dataplane's main
 * lcore writes it.
 */
#ifndef SLUICE_DATAPLANE_XDP_STEER_SHARED_H
#define SLUICE_DATAPLANE_XDP_STEER_SHARED_H

#include <linux/types.h>

/* The map the PMD puts its AF_XDP sockets in, keyed by RX queue index;
 * DPDK 22.11's net_af_xdp looks it up by this name in an xdp_prog=
 * object (drivers/net/af_xdp/rte_eth_af_xdp.c, load_custom_xdp_prog). */
#define SLUICE_XSKS_MAP "xsks_map"
#define SLUICE_VIPS_MAP "sluice_vips"
#define SLUICE_STATS_MAP "sluice_stats"

/* Two keys per VIP at most, so 32768 VIPs with distinct addresses. */
#define SLUICE_STEER_MAX_KEYS 65536
#define SLUICE_STEER_MAX_QUEUES 64

/* The first 20 bytes of a VipSlot (common/vip_index.h). */
struct sluice_vip_key {
  __u8 address[16]; /* FlowKey layout: IPv4 in the first 4 bytes, rest 0 */
  __u16 port_be;    /* 0: all ports, or the address marker */
  __u8 protocol;    /* 0 (with port 0): the address marker */
  __u8 family;      /* 4 or 6 */
};

/* Per-CPU counters, indices of sluice_steer_stats. */
enum sluice_steer_stat {
  SLUICE_STEER_REDIRECTED = 0, /* handed to an AF_XDP socket */
  SLUICE_STEER_PASSED = 1,     /* not ours: to the kernel */
  /* Ours, but no socket on the packet's RX queue: to the kernel instead
   * (a queue the dataplane does not poll, or sockets not yet set up). */
  SLUICE_STEER_NO_SOCKET = 2,
  SLUICE_STEER_STAT_COUNT = 3,
};

#endif
