/* Shared between the tunnel probe's tc program and its loader (tunnel.cc):
 * the map value that says where a marked probe goes. Plain C. */
#ifndef SLUICE_TUNNEL_SHARED_H
#define SLUICE_TUNNEL_SHARED_H

enum tunnel_encap_kind {
  TUNNEL_IPIP = 1, /* IPv4 in IPv4 (protocol 4), IPv6 in IPv6 (41) */
  TUNNEL_GUE = 2,  /* GUE variant 1: the IP packet directly in UDP */
};

struct tunnel_dest {
  unsigned char family; /* 4 or 6: the backend's and the probe's (the VIP's) */
  unsigned char encap;  /* enum tunnel_encap_kind */
  unsigned short gue_port_be;
  unsigned char addr[16]; /* the backend; IPv4 in the first 4 bytes */
};

/* Socket marks of tunnel probes: this base plus the backend's id (ids are
 * below 2^24), so one mark per backend and none that another user of marks
 * on the host is likely to hold. */
#define TUNNEL_MARK_BASE 0x51000000u
#define TUNNEL_MARK_MASK 0xff000000u

#endif
