// How a VIP picks a backend for a new flow, and what it answers when no
// backend is usable (DESIGN.md section 3). The names, the per-VIP policy's
// validation and the decision rules are written here once: the worker
// schedules by them, flow explain names them, and the unit simulations run
// them on made-up counts.
//
// - maglev (default) and source-hash are consistent across hosts: every
//   Sluice host computes the same Maglev table, so a flow keeps its backend
//   when ECMP moves it to another host. source-hash feeds Maglev the hash of
//   the client address alone (source_hash): all of a client's flows go to
//   one backend.
// - weighted-round-robin, least-connections and power-of-two decide on
//   state one host has (its per-lcore rotation, its connection counts): they
//   are host-local and do not keep a flow's backend across hosts. They
//   decide new flows only; a flow under way that misses the connection
//   table goes by the existing-flows Maglev table like any other.
//
// Pure functions on plain data; any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "common/hash.h"
#include "common/maglev.h"

namespace sluice {

enum class Scheduler : uint8_t {
  kMaglev = 0,
  kSourceHash = 1,
  kWeightedRoundRobin = 2,
  kLeastConnections = 3,
  kPowerOfTwo = 4,
};
inline constexpr uint32_t kSchedulerCount = 5;

enum class NoBackend : uint8_t {
  kDrop = 0,         // drop, counted
  kReset = 1,        // TCP RST to the client (TCP VIPs only)
  kUnreachable = 2,  // ICMP / ICMPv6 destination unreachable
};
inline constexpr uint32_t kNoBackendCount = 3;

// A day: far beyond any real ramp, and small enough that the ramp's
// arithmetic in nanoseconds never overflows.
inline constexpr uint32_t kMaxSlowStartSeconds = 86400;

const char* scheduler_name(Scheduler s);
std::optional<Scheduler> parse_scheduler(std::string_view name);
// "maglev, source-hash, ..." for messages and help.
const char* scheduler_names();
const char* no_backend_name(NoBackend n);
std::optional<NoBackend> parse_no_backend(std::string_view name);
const char* no_backend_names();

// Whether the scheduler's choice depends on one host's state (the last
// three): then a flow moved to another host by ECMP may get another backend.
inline bool scheduler_is_host_local(Scheduler s) {
  return s == Scheduler::kWeightedRoundRobin || s == Scheduler::kLeastConnections ||
         s == Scheduler::kPowerOfTwo;
}
// Whether it needs the backends' connection counts.
inline bool scheduler_counts_connections(Scheduler s) {
  return s == Scheduler::kLeastConnections || s == Scheduler::kPowerOfTwo;
}

// The rules of a VIP's policy fields alone; empty if they hold, else a
// message, with `field` set to the offending key ("scheduler", "no_backend",
// "slow_start"). `protocol` is the VIP's (6 or 17): a reset is TCP's answer.
std::string validate_vip_policy(Scheduler scheduler, NoBackend no_backend, uint32_t slow_start_s,
                                uint8_t protocol, std::string& field);

// source-hash's Maglev input: the client address alone (its family too, so
// 192.0.2.1 and ::c000:201 differ), seeded like the flow hash. `src` is 16
// bytes in FlowKey layout.
inline uint64_t source_hash(const uint8_t* src, uint8_t family, uint64_t seed) {
  FlowKey k{};
  std::memcpy(k.src, src, 16);
  k.family = family;
  return hash_detail::mix_key40(reinterpret_cast<const uint8_t*>(&k),
                                seed ^ 0x736f757263652d68ull);  // "source-h"
}

// What Maglev hashes for a flow of a VIP with this scheduler: the client
// address alone for source-hash, the flow hash for every other one. The
// worker and flow.explain both ask here. `src` as for source_hash.
inline uint64_t maglev_input(Scheduler scheduler, uint64_t flow_hash, const uint8_t* src,
                             uint8_t family, uint64_t seed) {
  return scheduler == Scheduler::kSourceHash ? source_hash(src, family, seed) : flow_hash;
}

// Costs are kept below this (connection_cost), so that cost times weight
// fits 64 bits in cost_per_weight_less.
inline constexpr uint64_t kMaxConnectionCost = uint64_t{1} << 42;

// IPVS's connection cost (ip_vs_dest_conn_overhead): an established
// connection weighs 256 inactive ones (half-open, closing; UDP flows are
// inactive, as IPVS counts them).
inline uint64_t connection_cost(uint64_t active, uint64_t inactive) {
  const uint64_t cost = active * 256 + inactive;
  return cost < kMaxConnectionCost ? cost : kMaxConnectionCost - 1;
}

// Whether a backend of cost `a` and weight `wa` is strictly less loaded per
// weight than one of cost `b` and weight `wb`: a/wa < b/wb, compared by
// cross-multiplying as IPVS's wlc does (no division; weights > 0). Ties
// are not "less", so the earlier candidate keeps a tie. 64 bits suffice:
// a cost is below 2^42 (fewer than 2^33 entries of a class, times 256, as
// the workers count them) and a weight at most kMaglevMaxWeight (< 2^20).
static_assert(kMaxConnectionCost <= UINT64_MAX / kMaglevMaxWeight);
inline bool cost_per_weight_less(uint64_t a, uint32_t wa, uint64_t b, uint32_t wb) {
  return a * wb < b * wa;
}

// A VIP's candidates for new flows, in configuration order: backend ids
// and the running sum of their weights (cumulative[i] = weights of 0..i;
// 64 bits: 65,535 backends of weight 10^6 exceed 32), all weights > 0.
// What the host-local schedulers choose among.
struct Candidates {
  const uint32_t* ids = nullptr;
  const uint64_t* cumulative = nullptr;
  uint32_t count = 0;

  uint32_t weight(uint32_t i) const {
    return static_cast<uint32_t>(cumulative[i] - (i == 0 ? 0 : cumulative[i - 1]));
  }
  uint64_t total() const { return count == 0 ? 0 : cumulative[count - 1]; }
};

// Smooth weighted round robin as nginx does it (ngx_http_upstream_get_peer):
// every candidate's current weight grows by its weight, the largest current
// weight wins (the first on a tie) and gives back the total. Over any
// `total` picks each candidate is picked exactly weight times, spread
// evenly. `current` is indexed by backend id (per lcore). Returns the index
// in the candidates; count must be > 0.
inline uint32_t smooth_wrr_pick(const Candidates& c, int64_t* current) {
  uint32_t best = 0;
  int64_t best_weight = INT64_MIN;
  for (uint32_t i = 0; i < c.count; ++i) {
    int64_t& cw = current[c.ids[i]];
    cw += c.weight(i);
    // Selects rather than branches: which backend leads changes from pick
    // to pick, so a branch here would be mispredicted often.
    const bool better = cw > best_weight;
    best = better ? i : best;
    best_weight = better ? cw : best_weight;
  }
  current[c.ids[best]] -= static_cast<int64_t>(c.total());
  return best;
}

// The candidate with the least cost per weight (IPVS wlc); the first of
// equals. `cost(id)` gives a backend's connection_cost.
template <typename Cost>
uint32_t least_connections_pick(const Candidates& c, Cost&& cost) {
  uint32_t best = 0;
  uint64_t best_cost = cost(c.ids[0]);
  uint32_t best_weight = c.weight(0);
  for (uint32_t i = 1; i < c.count; ++i) {
    const uint64_t x = cost(c.ids[i]);
    const uint32_t w = c.weight(i);
    // Selects, not branches (as in smooth_wrr_pick).
    const bool better = cost_per_weight_less(x, w, best_cost, best_weight);
    best = better ? i : best;
    best_cost = better ? x : best_cost;
    best_weight = better ? w : best_weight;
  }
  return best;
}

// The candidate a uniform draw `r` in [0, total) falls on, weighted by the
// cumulative sums: the first i with r < cumulative[i]. A binary search
// without branches on the data (the draw is random, so a branch on it
// would be mispredicted half the time): the answer stays in
// [base, base + n), which halves each step.
inline uint32_t weighted_index(const Candidates& c, uint64_t r) {
  uint32_t base = 0, n = c.count;
  while (n > 1) {
    const uint32_t half = n / 2;
    base = c.cumulative[base + half - 1] <= r ? base + half : base;
    n -= half;
  }
  return base;
}

// A draw in [0, total) from a 64-bit random word (Lemire's multiply-shift).
inline uint64_t draw_below(uint64_t random, uint64_t total) {
  return static_cast<uint64_t>((static_cast<__uint128_t>(random) * total) >> 64);
}

// Power of two choices (Mitzenmacher): two weighted random candidates, the
// one with the lower cost per weight wins (the first on a tie). `r1`, `r2`
// are random 64-bit words.
template <typename Cost>
uint32_t power_of_two_pick(const Candidates& c, uint64_t r1, uint64_t r2, Cost&& cost) {
  const uint32_t a = weighted_index(c, draw_below(r1, c.total()));
  const uint32_t b = weighted_index(c, draw_below(r2, c.total()));
  if (a == b) return a;
  return cost_per_weight_less(cost(c.ids[b]), c.weight(b), cost(c.ids[a]), c.weight(a)) ? b : a;
}

// xorshift64* (Vigna): the per-lcore random words of power-of-two. Cheap,
// and deterministic from its seed, which the fixtures rely on.
inline uint64_t xorshift64star(uint64_t& state) {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1Dull;
}

}  // namespace sluice
