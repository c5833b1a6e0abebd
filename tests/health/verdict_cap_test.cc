// The health verdict's rise/fall state machine on scripted results, its
// unknown start, the removal cap at 1, 2, 3 and 10 backends, and
// administrative state over health (health/verdict.h, health/removal_cap.h,
// controlplane/health_monitor.h's effective()).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "health/removal_cap.h"
#include "health/verdict.h"

namespace sluice::health {
namespace {

// Feeds `script` ('+' pass, '-' failure) and returns the state after each.
std::string run(Verdict& v, const std::string& script) {
  std::string out;
  for (char c : script) {
    v.record(c == '+');
    out += v.state() == Health::kUnknown ? 'U' : v.state() == Health::kHealthy ? 'H' : 'X';
  }
  return out;
}

TEST(Verdict, StartsUnknown) {
  Verdict v(2, 3);
  EXPECT_EQ(v.state(), Health::kUnknown);
  EXPECT_STREQ(health_name(v.state()), "unknown");
}

TEST(Verdict, UnknownNeedsRisePassesOrFallFailures) {
  Verdict up(2, 3);
  EXPECT_EQ(run(up, "++"), "UH");
  Verdict down(2, 3);
  EXPECT_EQ(run(down, "---"), "UUX");
  // Alternating results never decide.
  Verdict flap(2, 3);
  EXPECT_EQ(run(flap, "+-+-+-"), "UUUUUU");
}

TEST(Verdict, ScriptedRiseAndFall) {
  Verdict v(2, 3);
  // up after 2, one failure is not enough, 3 in a row are; back after 2.
  EXPECT_EQ(run(v, "++-+---+-++"), "UHHHHHXXXXH");
}

TEST(Verdict, RecordReportsTransitionsOnly) {
  Verdict v(1, 1);
  EXPECT_TRUE(v.record(true));
  EXPECT_FALSE(v.record(true));
  EXPECT_TRUE(v.record(false));
  EXPECT_FALSE(v.record(false));
  EXPECT_TRUE(v.record(true));
}

TEST(Verdict, ThresholdsOfOne) {
  Verdict v(1, 1);
  EXPECT_EQ(run(v, "+-+-"), "HXHX");
}

std::vector<CapMember> pool(size_t n, size_t unhealthy) {
  std::vector<CapMember> m(n);
  for (size_t i = 0; i < n; ++i) {
    m[i].health = i < unhealthy ? Health::kUnhealthy : Health::kHealthy;
    m[i].unhealthy_since = 100 + i;
  }
  return m;
}

size_t removed(const CapDecision& d) {
  size_t n = 0;
  for (bool r : d.remove) n += r ? 1 : 0;
  return n;
}

TEST(RemovalCap, DefaultHalfAtOneTwoThreeAndTen) {
  struct Case {
    size_t backends, unhealthy, removed, held;
  };
  const Case cases[] = {
      {1, 1, 0, 1},    // one backend: health never empties the VIP at 50%
      {2, 1, 1, 0},  {2, 2, 1, 1},
      {3, 1, 1, 0},  {3, 2, 1, 1}, {3, 3, 1, 2},
      {10, 4, 4, 0}, {10, 5, 5, 0}, {10, 6, 5, 1}, {10, 10, 5, 5},
  };
  for (const Case& c : cases) {
    const CapDecision d = apply_removal_cap(pool(c.backends, c.unhealthy), 50);
    EXPECT_EQ(removed(d), c.removed) << c.backends << " backends, " << c.unhealthy << " unhealthy";
    EXPECT_EQ(d.held, c.held) << c.backends << " backends, " << c.unhealthy << " unhealthy";
    EXPECT_EQ(d.degraded(), c.held > 0);
    EXPECT_EQ(d.unhealthy, c.unhealthy);
  }
}

TEST(RemovalCap, HundredPercentRemovesAll) {
  for (size_t n : {1, 2, 3, 10}) {
    const CapDecision d = apply_removal_cap(pool(n, n), 100);
    EXPECT_EQ(removed(d), n);
    EXPECT_FALSE(d.degraded());
  }
}

TEST(RemovalCap, ZeroPercentRemovesNone) {
  const CapDecision d = apply_removal_cap(pool(10, 3), 0);
  EXPECT_EQ(removed(d), 0u);
  EXPECT_EQ(d.held, 3u);
}

TEST(RemovalCap, LongestFailedGoFirstAndUnknownStaysIn) {
  std::vector<CapMember> m = pool(4, 3);
  m[0].unhealthy_since = 300;  // the most recent failure
  m[1].unhealthy_since = 100;
  m[2].unhealthy_since = 200;
  m[3].health = Health::kUnknown;
  const CapDecision d = apply_removal_cap(m, 50);  // 2 of 4
  EXPECT_EQ(d.remove, (std::vector<bool>{false, true, true, false}));
  EXPECT_EQ(d.held, 1u);
}

TEST(RemovalCap, AdministrativeStateWins) {
  // Draining or disabled backends are never removed by health and do not
  // count toward the cap's base.
  std::vector<CapMember> m = pool(4, 4);
  m[0].active = false;
  m[1].active = false;
  const CapDecision d = apply_removal_cap(m, 50);  // 2 active: 1 may go
  EXPECT_FALSE(d.remove[0]);
  EXPECT_FALSE(d.remove[1]);
  EXPECT_EQ(removed(d), 1u);
  EXPECT_EQ(d.unhealthy, 2u);
  EXPECT_EQ(d.held, 1u);
}

}  // namespace
}  // namespace sluice::health
