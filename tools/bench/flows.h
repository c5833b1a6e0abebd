// Client flows for a World. The planner hands out fresh flow numbers and,
// for flows meant to be inserted, keeps only those whose connection-table
// bucket still has room: the hash is the dataplane's own flow_hash of the
// key parse_packet builds, so a planned set inserts without a single
// failure, and a scenario that claims "every packet inserted" can demand it
// exactly. Main lcore.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "common/hash.h"
#include "tools/bench/world.h"

namespace sluice::bench {

class FlowPlanner {
 public:
  explicit FlowPlanner(const World& world);

  // `n` fresh flows, each in a bucket with room left (counting every flow
  // placed before). Throws std::runtime_error if the client space runs out.
  std::vector<uint32_t> place(uint64_t n);
  // `n` fresh flows, not placed (for packets that must not insert).
  std::vector<uint32_t> fresh(uint64_t n);

  FlowKey key_of(uint32_t flow) const;
  FlowHash hash_of(uint32_t flow) const;

 private:
  const World& world_;
  uint64_t mask_;
  std::vector<uint8_t> fill_;  // planned entries per bucket
  uint32_t next_ = 0;
};

// `flows` in random order.
std::vector<uint32_t> shuffled(std::vector<uint32_t> flows, std::mt19937_64& rng);

// Fills every bucket of the world's connection table with live entries of
// flows that never send (random fingerprints), so that every insert meets a
// full bucket. Returns the number of live entries afterwards.
uint64_t fill_with_other_flows(World& world, std::mt19937_64& rng);

}  // namespace sluice::bench
