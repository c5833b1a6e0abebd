#include "tools/bench/flows.h"

#include "common/flow_key.h"

#include <rte_byteorder.h>
#include <rte_cycles.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sluice::bench {

FlowPlanner::FlowPlanner(const World& world)
    : world_(world), mask_(world.conn_buckets() - 1), fill_(world.conn_buckets(), 0) {}

FlowKey FlowPlanner::key_of(uint32_t flow) const {
  // The key the worker builds for the flow's packets: the one function in
  // common/flow_key.h.
  const Endpoint c = client_endpoint(world_.spec().family, flow);
  const Endpoint& v = world_.vip_of(flow);
  return make_flow_key(world_.spec().family, c.addr, rte_be_to_cpu_16(c.port_be), v.addr,
                       rte_be_to_cpu_16(v.port_be), 6);
}

FlowHash FlowPlanner::hash_of(uint32_t flow) const {
  return flow_hash(key_of(flow), world_.ctx().config().hash_seed);
}

std::vector<uint32_t> FlowPlanner::place(uint64_t n) {
  std::vector<uint32_t> out;
  out.reserve(n);
  while (out.size() < n) {
    if (next_ >= kMaxClientFlows) {
      throw std::runtime_error("ran out of client flows after placing " +
                               std::to_string(out.size()) + " of " + std::to_string(n) +
                               " (the connection table is too full)");
    }
    const uint32_t flow = next_++;
    uint8_t& fill = fill_[hash_of(flow).hash & mask_];
    if (fill >= dp::kConnEntriesPerBucket) continue;
    ++fill;
    out.push_back(flow);
  }
  return out;
}

std::vector<uint32_t> FlowPlanner::fresh(uint64_t n) {
  if (next_ + n > kMaxClientFlows) throw std::runtime_error("ran out of client flows");
  std::vector<uint32_t> out(n);
  for (uint64_t i = 0; i < n; ++i) out[i] = next_++;
  return out;
}

std::vector<uint32_t> shuffled(std::vector<uint32_t> flows, std::mt19937_64& rng) {
  std::shuffle(flows.begin(), flows.end(), rng);
  return flows;
}

uint64_t fill_with_other_flows(World& world, std::mt19937_64& rng) {
  dp::WorkerContext& ctx = world.ctx();
  dp::ConnTable& conn = ctx.conn();
  // Established entries: live for the whole run (the idle timeout is an
  // hour), and never given up for a half-open one.
  const uint32_t now = ctx.ticks(rte_rdtsc());
  const uint32_t backend = world.spec().backends_per_vip;  // some backend of VIP 1
  for (uint64_t b = 0; b < world.conn_buckets(); ++b) {
    for (uint32_t i = 0; i < dp::kConnEntriesPerBucket; ++i) {
      // Odd, like flow_hash's fingerprints; a real flow matches one with
      // probability 2^-63.
      conn.insert(b, rng() | 1, backend, ConnState::kEstablished, now);
    }
  }
  return conn.count_live(ctx.ticks(rte_rdtsc()));
}

}  // namespace sluice::bench
