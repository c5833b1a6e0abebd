// The floor: the least any forwarder does with a packet, to put every other
// figure in proportion (testpmd's macswap forwarding, on the same mbufs and
// with the same prefetch distance as process_burst): read the Ethernet and
// IP headers, swap the MACs, count, hand the packet on. Main lcore; the
// caller owns the counts.
#pragma once

#include <cstdint>

#include <rte_mbuf.h>

namespace sluice::bench {

struct FloorCounts {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t ipv4 = 0;
  uint64_t ipv6 = 0;
  uint64_t other = 0;  // neither (still forwarded, as macswap does)
};

// Processes `n` packets and lists them all in `out` (n entries).
void floor_burst(rte_mbuf* const* pkts, uint16_t n, FloorCounts& counts, rte_mbuf** out);

}  // namespace sluice::bench
