// Helpers for packets that span several mbuf segments (drivers such as
// net_pcap chain large frames). lb-dataplane's own pool holds a whole frame
// in one segment, so these run off the common path; they exist so that a
// chained packet is handled exactly like a flat one. Worker lcores only.
#pragma once

#include <cstdint>

#include <rte_ip.h>
#include <rte_mbuf.h>

namespace sluice::dp {

// Cuts the packet to its first `len` bytes (len <= pkt_len), freeing the
// segments past the cut: rte_pktmbuf_trim can only shorten the last segment.
inline void mbuf_truncate(rte_mbuf* m, uint32_t len) {
  if (len >= rte_pktmbuf_pkt_len(m)) return;
  m->pkt_len = len;
  rte_mbuf* seg = m;
  uint16_t segs = 1;
  while (len > seg->data_len && seg->next != nullptr) {
    len -= seg->data_len;
    seg = seg->next;
    ++segs;
  }
  seg->data_len = static_cast<uint16_t>(len);
  if (seg->next != nullptr) {
    rte_pktmbuf_free(seg->next);
    seg->next = nullptr;
  }
  m->nb_segs = segs;
}

// Unreduced one's-complement sum of `len` bytes from offset `off` across the
// chain. DPDK 22.11's rte_raw_cksum_mbuf truncates a segment's 32-bit sum to
// 16 bits before byte-swapping it when the segment starts at an odd offset,
// losing carries; here each segment's sum is reduced first.
inline uint32_t mbuf_raw_cksum(const rte_mbuf* m, uint32_t off, uint32_t len) {
  uint32_t sum = 0;
  uint32_t done = 0;
  for (const rte_mbuf* seg = m; seg != nullptr && len > 0; seg = seg->next) {
    if (off >= seg->data_len) {
      off -= seg->data_len;
      continue;
    }
    uint32_t n = seg->data_len - off;
    if (n > len) n = len;
    uint32_t s = __rte_raw_cksum_reduce(
        __rte_raw_cksum(rte_pktmbuf_mtod_offset(seg, const uint8_t*, off), n, 0));
    // A segment that starts at an odd byte of the range sums its words
    // shifted by one byte: swap its sum back.
    if (done & 1) s = ((s & 0xFF) << 8) | (s >> 8);
    sum += s;
    done += n;
    len -= n;
    off = 0;
  }
  return sum;
}

}  // namespace sluice::dp
