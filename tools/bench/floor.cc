#include "tools/bench/floor.h"

#include <rte_prefetch.h>

#include <cstring>

#include "common/net_headers.h"

namespace sluice::bench {

// Not inline: the floor is measured as a call per burst, like process_burst.
__attribute__((noinline)) void floor_burst(rte_mbuf* const* pkts, uint16_t n,
                                           FloorCounts& counts, rte_mbuf** out) {
  constexpr uint16_t kPrefetchAhead = 4;  // as process_burst
  for (uint16_t i = 0; i < n && i < kPrefetchAhead; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  }
  uint64_t bytes = 0, v4 = 0, v6 = 0;
  for (uint16_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
    rte_mbuf* m = pkts[i];
    auto* frame = rte_pktmbuf_mtod(m, uint8_t*);
    bytes += rte_pktmbuf_pkt_len(m);
    uint16_t type;
    std::memcpy(&type, frame + 12, 2);
    // Read the IP header a forwarder would look at: version and TTL.
    const uint8_t* ip = frame + sizeof(net::EthernetHeader);
    v4 += type == net::host_to_be16(net::kEtherTypeIpv4) && (ip[0] >> 4) == 4 && ip[8] > 1;
    v6 += type == net::host_to_be16(net::kEtherTypeIpv6) && (ip[0] >> 4) == 6 && ip[7] > 1;
    uint8_t mac[6];
    std::memcpy(mac, frame, 6);
    std::memmove(frame, frame + 6, 6);
    std::memcpy(frame + 6, mac, 6);
    out[i] = m;
  }
  counts.packets += n;
  counts.bytes += bytes;
  counts.ipv4 += v4;
  counts.ipv6 += v6;
  counts.other += n - v4 - v6;
}

}  // namespace sluice::bench
