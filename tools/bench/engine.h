// The timed loop. A window of mbufs is stamped with the next packets of a
// Traffic (outside the timed region), then pushed through the forwarder in
// bursts while the TSC runs, then checked packet by packet (outside again).
// The timed region holds only the forwarder calls, plus rte_eth_rx_burst /
// rte_eth_tx_burst in ring mode (and in xdp mode, only the passes of the
// loop that received packets: an empty poll waits for the kernel's veth,
// which is not the port's per-packet cost). Main lcore only.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <vector>

#include <rte_mbuf.h>

#include "tools/bench/floor.h"
#include "tools/bench/ring_ports.h"
#include "tools/bench/traffic.h"
#include "tools/bench/world.h"
#include "tools/bench/xdp_ports.h"

namespace sluice::bench {

// A packet or counter did not take the path its scenario claims.
class VerdictError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Forwarder : uint8_t { kSluice, kFloor };
enum class Io : uint8_t { kDirect, kRing, kXdp };

struct PassResult {
  uint64_t packets = 0;
  uint64_t alt_packets = 0;
  uint64_t cycles = 0;  // in the timed region only, all rounds
  // The same over the rounds during which the thread was not switched out
  // (getrusage context switches): on a shared 2-core host a preempted round
  // measures the scheduler, not the forwarder.
  uint64_t clean_cycles = 0;
  uint64_t clean_packets = 0;
  uint64_t rounds = 0;
  uint64_t preempted_rounds = 0;
  // BurstOutput list totals (for the floor: its output list).
  uint64_t to_backend = 0;
  uint64_t to_client = 0;
  uint64_t dropped = 0;
  FloorCounts floor;
};

class Engine {
 public:
  // `ring` and `xdp` may be null (no ring / xdp mode). Throws
  // std::runtime_error if the pool cannot give `window` mbufs.
  Engine(rte_mempool* pool, uint32_t window, uint32_t burst, const RingPorts* ring,
         const XdpPorts* xdp = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Sends `packets` packets of `t` through `f`. Throws VerdictError when a
  // packet comes out other than its path says (lengths, headers, lists).
  PassResult run(World& world, Traffic& t, uint64_t packets, Forwarder f, Io io);

  uint32_t window() const { return static_cast<uint32_t>(mbufs_.size()); }
  uint32_t burst() const { return burst_; }

 private:
  void prepare(World& world, Traffic& t, uint32_t k);
  uint64_t timed_direct(World& world, uint32_t k, Forwarder f, PassResult& r);
  uint64_t timed_ring(World& world, uint32_t k, Forwarder f, PassResult& r);
  uint64_t timed_xdp(World& world, uint32_t k, Forwarder f, PassResult& r);
  void check_round(World& world, const Traffic& t, uint32_t k, Forwarder f) const;

  std::vector<rte_mbuf*> mbufs_;
  std::vector<uint8_t> alt_;  // per window slot: stamped with Traffic::alt
  uint32_t burst_;
  rte_mempool* pool_;
  const RingPorts* ring_;
  const XdpPorts* xdp_;
};

}  // namespace sluice::bench
