// Shared between the decapsulation BPF program and lb-backend: the map key
// of local addresses and the statistics slots. Plain C, no kernel headers.
#ifndef SLUICE_DECAP_SHARED_H
#define SLUICE_DECAP_SHARED_H

struct decap_local_addr {
  unsigned char family;  // 4 or 6
  unsigned char pad[3];
  unsigned char addr[16];
};

enum decap_stat {
  DECAP_STAT_IPIP4 = 0,   // outer IPv4, IPIP (4) or 6in4 (41)
  DECAP_STAT_IPIP6 = 1,   // outer IPv6, 4in6 or 6in6
  DECAP_STAT_GUE = 2,     // outer UDP to the GUE port, either family
  DECAP_STAT_PASSED = 3,  // not for us: left to the kernel untouched
  DECAP_STAT_MALFORMED = 4,
  DECAP_STAT_COUNT = 5,
};

#endif
