// The scheduling rules of common/scheduler.h and the backup rule of
// common/table_config.h, alone: smooth weighted round robin's spread,
// least-connections and power of two choices under skewed connection
// lifetimes (a simulation with a fixed seed), the policy's validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <numeric>
#include <random>
#include <vector>

#include "common/scheduler.h"
#include "common/table_config.h"

namespace sluice {
namespace {

// Candidates over ids 1..n with the given weights.
struct Pool {
  std::vector<uint32_t> ids;
  std::vector<uint64_t> cumulative;
  explicit Pool(const std::vector<uint32_t>& weights) {
    uint64_t sum = 0;
    for (size_t i = 0; i < weights.size(); ++i) {
      ids.push_back(static_cast<uint32_t>(i + 1));
      sum += weights[i];
      cumulative.push_back(sum);
    }
  }
  Candidates candidates() const {
    return {ids.data(), cumulative.data(), static_cast<uint32_t>(ids.size())};
  }
};

TEST(SmoothWeightedRoundRobin, NginxOrderForFiveOneOne) {
  const Pool pool({5, 1, 1});
  std::vector<int64_t> current(4, 0);
  std::vector<uint32_t> order;
  for (int i = 0; i < 14; ++i) order.push_back(smooth_wrr_pick(pool.candidates(), current.data()));
  // nginx's documented sequence for weights a=5, b=1, c=1: a a b a c a a.
  EXPECT_EQ(order, (std::vector<uint32_t>{0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0}));
}

TEST(SmoothWeightedRoundRobin, TenThousandPicksFollowTheWeightsWithinOnePercent) {
  for (const std::vector<uint32_t>& weights :
       {std::vector<uint32_t>{5, 3, 1, 1}, std::vector<uint32_t>{7, 13, 29, 51, 3},
        std::vector<uint32_t>{1000000, 1, 999}, std::vector<uint32_t>{1}}) {
    const Pool pool(weights);
    std::vector<int64_t> current(weights.size() + 1, 0);
    std::vector<uint64_t> picked(weights.size(), 0);
    constexpr int kPicks = 10000;
    for (int i = 0; i < kPicks; ++i) ++picked[smooth_wrr_pick(pool.candidates(), current.data())];
    const double total = static_cast<double>(pool.cumulative.back());
    for (size_t i = 0; i < weights.size(); ++i) {
      const double want = kPicks * static_cast<double>(weights[i]) / total;
      EXPECT_LE(std::abs(static_cast<double>(picked[i]) - want), kPicks * 0.01)
          << "backend " << i << " of weights " << ::testing::PrintToString(weights);
    }
  }
}

// One simulated host: connections arrive one per step; each picks a
// backend by `pick` and lives `lifetime(backend)` steps. Returns, per
// backend, the time-averaged number of open connections and the share of
// new connections.
struct Outcome {
  std::vector<double> open;
  std::vector<double> share;
};

template <typename Pick, typename Lifetime>
Outcome simulate(const std::vector<uint32_t>& weights, Pick&& pick, Lifetime&& lifetime,
                 int steps) {
  const size_t n = weights.size();
  std::vector<uint64_t> active(n + 1, 0);  // by id (1..n)
  std::vector<std::deque<int>> open_until(n + 1);
  Outcome o{std::vector<double>(n, 0), std::vector<double>(n, 0)};
  for (int t = 0; t < steps; ++t) {
    for (size_t id = 1; id <= n; ++id) {
      auto& q = open_until[id];
      // Connections end in any order: keep the queue sorted by end time.
      while (!q.empty() && q.front() <= t) {
        q.pop_front();
        --active[id];
      }
    }
    const uint32_t i = pick(active);
    const uint32_t id = i + 1;
    const int end = t + lifetime(i);
    auto& q = open_until[id];
    q.insert(std::upper_bound(q.begin(), q.end(), end), end);
    ++active[id];
    o.share[i] += 1.0 / steps;
    for (size_t b = 0; b < n; ++b) o.open[b] += static_cast<double>(active[b + 1]) / steps;
  }
  return o;
}

// The same pool and lifetimes under least-connections, power of two choices
// and plain weighted random (the yardstick), in that order.
struct ThreeOutcomes {
  Outcome least_connections, power_of_two, weighted_random;
};
template <typename Lifetime>
ThreeOutcomes simulate_three(const std::vector<uint32_t>& weights, Lifetime&& lifetime, int steps,
                             uint64_t random_state) {
  const Pool pool(weights);
  const Candidates c = pool.candidates();
  const auto cost_of = [](const std::vector<uint64_t>& active) {
    return [&active](uint32_t id) { return connection_cost(active[id], 0); };
  };
  ThreeOutcomes out;
  out.least_connections = simulate(
      weights, [&](const std::vector<uint64_t>& a) { return least_connections_pick(c, cost_of(a)); },
      lifetime, steps);
  out.power_of_two = simulate(
      weights,
      [&](const std::vector<uint64_t>& a) {
        const uint64_t r1 = xorshift64star(random_state), r2 = xorshift64star(random_state);
        return power_of_two_pick(c, r1, r2, cost_of(a));
      },
      lifetime, steps);
  out.weighted_random = simulate(
      weights,
      [&](const std::vector<uint64_t>&) {
        return weighted_index(c, draw_below(xorshift64star(random_state), c.total()));
      },
      lifetime, steps);
  return out;
}

// How far the busiest and idlest backend's open connections per weight are
// apart, over their mean.
double imbalance(const Outcome& o, const std::vector<uint32_t>& weights) {
  std::vector<double> per_weight;
  for (size_t i = 0; i < weights.size(); ++i) per_weight.push_back(o.open[i] / weights[i]);
  const double mean = std::accumulate(per_weight.begin(), per_weight.end(), 0.0) /
                      static_cast<double>(per_weight.size());
  const auto [lo, hi] = std::minmax_element(per_weight.begin(), per_weight.end());
  return (*hi - *lo) / mean;
}

// Heavy-tailed lifetimes (Pareto, shape 1.5): most connections are short, a
// few very long. Least-connections keeps the open connections per weight
// even; power of two choices nearly so, far better than a weighted random
// pick (what any hash does with equal flows).
TEST(ConnectionSchedulers, SpreadUnderHeavyTailedLifetimes) {
  const std::vector<uint32_t> weights = {1, 1, 2, 4};
  std::mt19937_64 rng(0x5eed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto lifetime = [&](uint32_t) {
    return static_cast<int>(std::min(200000.0, 100.0 / std::pow(1.0 - unit(rng), 1 / 1.5)));
  };
  constexpr int kSteps = 200000;
  const auto [lc, p2c, random] = simulate_three(weights, lifetime, kSteps, 0x1234567);
  std::printf("open connections per weight, max-min over mean: least-connections %.3f, "
              "power-of-two %.3f, weighted random %.3f\n",
              imbalance(lc, weights), imbalance(p2c, weights), imbalance(random, weights));
  EXPECT_LT(imbalance(lc, weights), 0.05);
  EXPECT_LT(imbalance(p2c, weights), 0.25);
  EXPECT_LT(imbalance(p2c, weights), imbalance(random, weights) / 2);
}

// One slow backend (its connections live ten times as long): least
// connections and power of two choices hand it far fewer new connections,
// so its open connections stay near the others'.
TEST(ConnectionSchedulers, SlowBackendGetsFewerNewConnections) {
  const std::vector<uint32_t> weights = {1, 1, 1, 1};
  auto lifetime = [](uint32_t backend) { return backend == 0 ? 400 : 40; };
  constexpr int kSteps = 100000;
  const auto [lc, p2c, random] = simulate_three(weights, lifetime, kSteps, 0x89abcdef);
  EXPECT_LT(lc.share[0], 0.05);
  EXPECT_LT(p2c.share[0], 0.15);
  EXPECT_NEAR(random.share[0], 0.25, 0.02);
  EXPECT_LT(imbalance(lc, weights), 0.1);
  EXPECT_LT(imbalance(p2c, weights), imbalance(random, weights) / 2);
}

TEST(ConnectionSchedulers, CostPerWeightComparesLikeIpvsWlc) {
  EXPECT_EQ(connection_cost(2, 3), 515u);
  // 10/1 against 19/2: 9.5 is less.
  EXPECT_TRUE(cost_per_weight_less(19, 2, 10, 1));
  EXPECT_FALSE(cost_per_weight_less(20, 2, 10, 1));  // a tie is not less
  const Pool pool({1, 3});
  const Candidates c = pool.candidates();
  std::vector<uint64_t> cost = {0, 10, 29};
  EXPECT_EQ(least_connections_pick(c, [&](uint32_t id) { return cost[id]; }), 1u);
  cost[2] = 30;  // 30/3 == 10/1: the first keeps a tie
  EXPECT_EQ(least_connections_pick(c, [&](uint32_t id) { return cost[id]; }), 0u);
}

TEST(ConnectionSchedulers, WeightedIndexFollowsTheCumulativeSums) {
  const Pool pool({2, 0 + 1, 5});
  const Candidates c = pool.candidates();
  EXPECT_EQ(c.total(), 8u);
  const std::vector<uint32_t> want = {0, 0, 1, 2, 2, 2, 2, 2};
  for (uint64_t r = 0; r < 8; ++r) EXPECT_EQ(weighted_index(c, r), want[r]) << r;
  // Against a plain search over many sizes and draws.
  std::mt19937_64 rng(7);
  for (uint32_t n = 1; n <= 40; ++n) {
    std::vector<uint32_t> w(n);
    for (uint32_t& x : w) x = 1 + static_cast<uint32_t>(rng() % 5);
    const Pool p(w);
    for (uint64_t r2 = 0; r2 < p.cumulative.back(); ++r2) {
      const uint32_t plain = static_cast<uint32_t>(
          std::upper_bound(p.cumulative.begin(), p.cumulative.end(), r2) - p.cumulative.begin());
      ASSERT_EQ(weighted_index(p.candidates(), r2), plain) << "n " << n << " r " << r2;
    }
  }
  EXPECT_LT(draw_below(UINT64_MAX, 8), 8u);
  EXPECT_EQ(draw_below(0, 8), 0u);
}

TEST(SourceHash, DependsOnTheClientAddressAndFamilyOnly) {
  uint8_t a[16] = {203, 0, 113, 7}, b[16] = {203, 0, 113, 8};
  EXPECT_EQ(source_hash(a, 4, 1), source_hash(a, 4, 1));
  EXPECT_NE(source_hash(a, 4, 1), source_hash(b, 4, 1));
  EXPECT_NE(source_hash(a, 4, 1), source_hash(a, 6, 1));
  EXPECT_NE(source_hash(a, 4, 1), source_hash(a, 4, 2));
}

TEST(VipPolicy, NamesAndRules) {
  for (uint32_t i = 0; i < kSchedulerCount; ++i) {
    const auto s = static_cast<Scheduler>(i);
    EXPECT_EQ(parse_scheduler(scheduler_name(s)), s);
  }
  for (uint32_t i = 0; i < kNoBackendCount; ++i) {
    const auto n = static_cast<NoBackend>(i);
    EXPECT_EQ(parse_no_backend(no_backend_name(n)), n);
  }
  EXPECT_FALSE(parse_scheduler("round-robin"));
  EXPECT_FALSE(scheduler_is_host_local(Scheduler::kSourceHash));
  EXPECT_TRUE(scheduler_is_host_local(Scheduler::kPowerOfTwo));
  std::string field;
  EXPECT_EQ(validate_vip_policy(Scheduler::kMaglev, NoBackend::kReset, 0, 6, field), "");
  EXPECT_NE(validate_vip_policy(Scheduler::kMaglev, NoBackend::kReset, 0, 17, field), "");
  EXPECT_EQ(field, "no_backend");
  EXPECT_NE(validate_vip_policy(Scheduler::kMaglev, NoBackend::kDrop, kMaxSlowStartSeconds + 1, 6,
                                field),
            "");
  EXPECT_EQ(field, "slow_start");
  EXPECT_NE(validate_vip_policy(static_cast<Scheduler>(9), NoBackend::kDrop, 0, 6, field), "");
  EXPECT_EQ(field, "scheduler");
}

VipConfig backup_vip(BackendState p1, BackendState p2) {
  VipConfig v;
  v.id = 1;
  v.protocol = 6;
  for (uint32_t i = 0; i < 3; ++i) {
    BackendConfig be;
    be.id = i + 1;
    be.name = "be" + std::to_string(i + 1);
    be.weight = i + 1;
    be.state = i == 0 ? p1 : i == 1 ? p2 : BackendState::kActive;
    be.backup = i == 2;
    v.backends.push_back(be);
  }
  return v;
}

// The backup rule, per table: backups take turns only where no primary has
// any.
TEST(BackupRule, BackupsTakeTurnsOnlyWhereNoPrimaryHasAny) {
  using S = BackendState;
  EXPECT_EQ(vip_turn_weights(backup_vip(S::kActive, S::kActive)), (std::vector<uint32_t>{1, 2, 0}));
  EXPECT_EQ(vip_turn_weights(backup_vip(S::kDisabled, S::kActive)),
            (std::vector<uint32_t>{0, 2, 0}));
  EXPECT_EQ(vip_turn_weights(backup_vip(S::kDisabled, S::kDisabled)),
            (std::vector<uint32_t>{0, 0, 3}));
  // A draining primary: new flows to the backup, flows under way stay on it.
  const VipConfig draining = backup_vip(S::kDraining, S::kDisabled);
  EXPECT_EQ(vip_turn_weights(draining, MaglevTurns::kNewFlows), (std::vector<uint32_t>{0, 0, 3}));
  EXPECT_EQ(vip_turn_weights(draining, MaglevTurns::kExistingFlows),
            (std::vector<uint32_t>{1, 0, 0}));
  EXPECT_TRUE(needs_existing_flows_table(draining));
  std::vector<uint32_t> ids;
  std::vector<uint64_t> cumulative;
  vip_candidates(draining, ids, cumulative);
  EXPECT_EQ(ids, (std::vector<uint32_t>{3}));
  EXPECT_EQ(cumulative, (std::vector<uint64_t>{3}));
  vip_candidates(backup_vip(S::kActive, S::kActive), ids, cumulative);
  EXPECT_EQ(ids, (std::vector<uint32_t>{1, 2}));
  EXPECT_EQ(cumulative, (std::vector<uint64_t>{1, 3}));
  // A backup's taking over changes the table: the builder must rebuild.
  EXPECT_FALSE(same_maglev_inputs(backup_vip(S::kActive, S::kDisabled),
                                  backup_vip(S::kDisabled, S::kDisabled)));
}

}  // namespace
}  // namespace sluice
