// The PMD pair of the ring-loop scenario: two net_ring ports made with
// rte_eth_from_rings, each of whose TX queue feeds its own RX queue. The
// timed loop receives from port `in`, runs process_burst and transmits on
// port `out`; outside the timed region the bench receives the packets back
// from `out`, restores them and transmits them on `in` for the next round.
// Created once at start-up; main lcore only.
#pragma once

#include <cstdint>
#include <string>

#include <rte_mempool.h>

namespace sluice::bench {

struct RingPorts {
  uint16_t in = 0;
  uint16_t out = 0;
  uint32_t capacity = 0;  // packets each port's ring holds
};

// Returns an empty string on success, else why not.
std::string make_ring_ports(rte_mempool* pool, uint32_t capacity, RingPorts& ports);
void close_ring_ports(const RingPorts& ports);

}  // namespace sluice::bench
