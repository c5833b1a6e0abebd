// Slow start's ramp (controlplane/slow_start.h): the ten levels, what starts
// a ramp and what does not, and the weights it pushes.
#include <gtest/gtest.h>

#include <set>

#include "controlplane/slow_start.h"

namespace sluice::cp {
namespace {

constexpr uint64_t kS = 1'000'000'000;

TEST(SlowStartTenths, TenLevelsFromTenPercentToFull) {
  EXPECT_EQ(slow_start_tenths(0, 90), 1u);
  std::set<uint32_t> levels;
  uint32_t last = 0;
  for (uint64_t t = 0; t <= 100 * kS; t += kS / 4) {
    const uint32_t l = slow_start_tenths(t, 90);
    EXPECT_GE(l, last) << "never goes back";
    last = l;
    levels.insert(l);
  }
  EXPECT_EQ(levels, (std::set<uint32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  // Linear: level k + 1 from k/9 of the time on, full exactly at the end.
  EXPECT_EQ(slow_start_tenths(10 * kS - 1, 90), 1u);
  EXPECT_EQ(slow_start_tenths(10 * kS, 90), 2u);
  EXPECT_EQ(slow_start_tenths(80 * kS, 90), 9u);
  EXPECT_EQ(slow_start_tenths(90 * kS - 1, 90), 9u);
  EXPECT_EQ(slow_start_tenths(90 * kS, 90), 10u);
  EXPECT_EQ(slow_start_tenths(5 * kS, 0), 10u);  // off
}

BackendConfig be(uint32_t id, uint32_t weight, BackendState state = BackendState::kActive) {
  BackendConfig b;
  b.id = id;
  b.name = "be" + std::to_string(id);
  b.weight = weight;
  b.state = state;
  return b;
}

TableConfig config(BackendState third, uint32_t slow_start = 90, uint32_t weight = 2) {
  VipConfig v;
  v.id = 1;
  v.protocol = 6;
  v.slow_start_s = slow_start;
  v.backends = {be(1, 1), be(2, weight), be(3, weight, third)};
  return TableConfig{{v}};
}

std::vector<uint32_t> weights(const TableConfig& c) {
  std::vector<uint32_t> w;
  for (const BackendConfig& b : c.vips[0].backends) w.push_back(b.weight);
  return w;
}

TEST(SlowStart, AReturningBackendRampsInAtMostTenChanges) {
  SlowStart s;
  uint64_t now = 1000 * kS;
  // What is there at start does not ramp.
  EXPECT_FALSE(s.update(config(BackendState::kDisabled), now));
  EXPECT_EQ(weights(s.apply(config(BackendState::kDisabled))), (std::vector<uint32_t>{1, 2, 2}));
  // Backend 3 returns: 10% of its weight, the others scaled alike.
  EXPECT_TRUE(s.update(config(BackendState::kActive), now));
  EXPECT_EQ(s.tenths(3), 1u);
  EXPECT_EQ(weights(s.apply(config(BackendState::kActive))), (std::vector<uint32_t>{10, 20, 2}));
  EXPECT_EQ(s.next_change_ns(), now + 10 * kS);
  int changes = 1;
  for (int i = 1; i <= 200; ++i) {
    changes += s.update(config(BackendState::kActive), now + i * kS / 2) ? 1 : 0;
  }
  EXPECT_EQ(changes, 10);
  EXPECT_EQ(s.tenths(3), 10u);
  EXPECT_EQ(s.next_change_ns(), 0u);
  // Done: the operator's weights again.
  EXPECT_EQ(weights(s.apply(config(BackendState::kActive))), (std::vector<uint32_t>{1, 2, 2}));
}

TEST(SlowStart, HalfwayTheWeightIsHalfwayAndLeavingEndsTheRamp) {
  SlowStart s;
  const uint64_t t0 = 10 * kS;
  s.update(config(BackendState::kDisabled), t0);
  s.update(config(BackendState::kActive), t0);
  s.update(config(BackendState::kActive), t0 + 45 * kS);
  EXPECT_EQ(s.tenths(3), 5u);  // 1 + floor(9 * 45 / 90)
  EXPECT_EQ(weights(s.apply(config(BackendState::kActive))), (std::vector<uint32_t>{10, 20, 10}));
  // Disabled again: the ramp ends (a change), and returning starts anew.
  EXPECT_TRUE(s.update(config(BackendState::kDisabled), t0 + 50 * kS));
  EXPECT_EQ(s.tenths(3), 10u);
  EXPECT_TRUE(s.update(config(BackendState::kActive), t0 + 60 * kS));
  EXPECT_EQ(s.tenths(3), 1u);
  // Slow start turned off mid-ramp: full weight at once.
  EXPECT_TRUE(s.update(config(BackendState::kActive, 0), t0 + 61 * kS));
  EXPECT_EQ(s.tenths(3), 10u);
}

TEST(SlowStart, NewVipsAndVipsWithoutSlowStartDoNotRamp) {
  SlowStart s;
  s.update(TableConfig{}, 0);
  // A VIP that arrives with its backends: they start together.
  EXPECT_FALSE(s.update(config(BackendState::kActive), kS));
  EXPECT_EQ(s.tenths(3), 10u);
  SlowStart off;
  off.update(config(BackendState::kDisabled, 0), 0);
  EXPECT_FALSE(off.update(config(BackendState::kActive, 0), kS));
  EXPECT_EQ(off.tenths(3), 10u);
  // A backend added to a known VIP ramps.
  TableConfig more = config(BackendState::kActive);
  more.vips[0].backends.push_back(be(4, 1));
  EXPECT_TRUE(s.update(more, 2 * kS));
  EXPECT_EQ(s.tenths(4), 1u);
}

TEST(SlowStart, WeightsTooLargeToScaleRampInTheirOwnUnits) {
  SlowStart s;
  s.update(config(BackendState::kDisabled, 90, 500000), 0);
  s.update(config(BackendState::kActive, 90, 500000), 0);
  EXPECT_EQ(weights(s.apply(config(BackendState::kActive, 90, 500000))),
            (std::vector<uint32_t>{1, 500000, 50000}));
}

}  // namespace
}  // namespace sluice::cp
