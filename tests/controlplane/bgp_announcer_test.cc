// When a VIP address is announced (controlplane/bgp_announcer.h), on a fake
// clock: at once when new; withdrawn at the first update that finds the
// dataplane dead, the VIP out of sync or too few backends serving; back
// only after a whole hold-down; a backend flapping every second makes one
// withdrawal and no re-announcement; an address is held back by any VIP on
// it; adopted announcements survive a restart; a drain tags, withdraws,
// waits for quiet (or its timeout) and stays drained; undrain skips the
// hold-down.
#include <gtest/gtest.h>

#include "controlplane/bgp_announcer.h"

namespace sluice::cp {
namespace {

constexpr uint64_t kMs = 1'000'000;
constexpr uint64_t kS = 1'000'000'000;

HostCondition good_host() {
  HostCondition h;
  h.dataplane_alive = true;
  h.liveness_up = true;
  h.in_sync = true;
  return h;
}

VipCondition vip(const std::string& key, const std::string& prefix, uint32_t serving = 2,
                 uint32_t backends = 2, uint32_t min_healthy = 1) {
  VipCondition c;
  c.vip = key;
  c.prefix = prefix;
  c.ipv6 = prefix.find(':') != std::string::npos;
  c.installed = true;
  c.serving = serving;
  c.backends = backends;
  c.min_healthy = min_healthy;
  return c;
}

bool announced(const BgpAnnouncer& a, const std::string& prefix) {
  for (const BirdRoute& r : a.desired().routes) {
    if (r.prefix == prefix) return true;
  }
  return false;
}

AnnounceTiming timing() {
  AnnounceTiming t;
  t.hold_down_ns = 10 * kS;
  t.sync_grace_ns = 5 * kS;
  t.startup_grace_ns = 10 * kS;
  t.quiet_ns = 1 * kS;
  return t;
}

TEST(BgpAnnouncer, NewVipIsAnnouncedAtOnceBothFamilies) {
  BgpAnnouncer a(timing(), {}, 0);
  EXPECT_TRUE(a.update(100 * kMs, good_host(),
                       {vip("192.0.2.10:80/tcp", "192.0.2.10/32"),
                        vip("[2001:db8::10]:80/tcp", "2001:db8::10/128")}));
  const BirdVipsFile f = a.desired();
  ASSERT_EQ(f.routes.size(), 2u);
  EXPECT_EQ(f.routes[0], (BirdRoute{"192.0.2.10/32", false, false}));
  EXPECT_EQ(f.routes[1], (BirdRoute{"2001:db8::10/128", true, false}));
  EXPECT_FALSE(f.host_drained);
}

TEST(BgpAnnouncer, TooFewHealthyWithdrawsThenHoldDown) {
  BgpAnnouncer a(timing(), {}, 0);
  uint64_t t = 0;
  a.update(t, good_host(), {vip("192.0.2.10:80/tcp", "192.0.2.10/32", 2, 3, 2)});
  ASSERT_TRUE(announced(a, "192.0.2.10/32"));
  t += 100 * kMs;
  EXPECT_TRUE(a.update(t, good_host(), {vip("192.0.2.10:80/tcp", "192.0.2.10/32", 1, 3, 2)}));
  EXPECT_FALSE(announced(a, "192.0.2.10/32"));
  const auto view = a.view(t);
  EXPECT_EQ(view["vips"][0]["reason"],
            "1 of 3 backends active and healthy or unknown, min_healthy 2");
  // Serving again: only after a whole hold-down of serving.
  const uint64_t back = t + 100 * kMs;
  for (t = back; t < back + 10 * kS; t += 100 * kMs) {
    a.update(t, good_host(), {vip("192.0.2.10:80/tcp", "192.0.2.10/32", 2, 3, 2)});
    ASSERT_FALSE(announced(a, "192.0.2.10/32")) << "at " << (t - back) / kMs << " ms";
  }
  EXPECT_GT(a.view(t - 100 * kMs)["vips"][0]["hold_down_remaining_s"].get<double>(), 0.0);
  a.update(t, good_host(), {vip("192.0.2.10:80/tcp", "192.0.2.10/32", 2, 3, 2)});
  EXPECT_TRUE(announced(a, "192.0.2.10/32"));
  const auto changes = a.take_changes();
  ASSERT_EQ(changes.size(), 3u);  // announce, withdraw, announce
  EXPECT_EQ(changes[1]["announced"], false);
}

TEST(BgpAnnouncer, FlappingBackendMakesOneWithdrawalAndNoFlap) {
  BgpAnnouncer a(timing(), {}, 0);
  uint64_t t = 0;
  a.update(t, good_host(), {vip("192.0.2.10:80/tcp", "192.0.2.10/32", 1, 1)});
  a.take_changes();
  // Down one second, up one second, for 30 seconds.
  for (; t < 30 * kS; t += 100 * kMs) {
    const bool up = (t / kS) % 2 == 1;
    a.update(t, good_host(), {vip("192.0.2.10:80/tcp", "192.0.2.10/32", up ? 1 : 0, 1)});
  }
  const auto changes = a.take_changes();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0]["announced"], false);
  // Stable again (up since the last second of the loop): announced once it
  // has served for a whole hold-down.
  const uint64_t stable = t - 1 * kS;
  while (!announced(a, "192.0.2.10/32") && t < stable + 20 * kS) {
    t += 100 * kMs;
    a.update(t, good_host(), {vip("192.0.2.10:80/tcp", "192.0.2.10/32", 1, 1)});
  }
  EXPECT_TRUE(announced(a, "192.0.2.10/32"));
  EXPECT_GE(t - stable, 10 * kS);
  EXPECT_LE(t - stable, 10 * kS + 200 * kMs);
}

TEST(BgpAnnouncer, DeadDataplaneOrMissingLivenessWithdrawsAtOnce) {
  BgpAnnouncer a(timing(), {}, 0);
  a.update(0, good_host(), {vip("192.0.2.10:80/tcp", "192.0.2.10/32")});
  HostCondition dead = good_host();
  dead.dataplane_alive = false;
  dead.dataplane_reason = "lb-dataplane pid 7 is gone";
  EXPECT_TRUE(a.update(100 * kMs, dead, {vip("192.0.2.10:80/tcp", "192.0.2.10/32")}));
  EXPECT_FALSE(announced(a, "192.0.2.10/32"));
  EXPECT_EQ(a.view(100 * kMs)["vips"][0]["reason"],
            "dataplane not alive: lb-dataplane pid 7 is gone");

  BgpAnnouncer b(timing(), {}, 0);
  b.update(0, good_host(), {vip("192.0.2.10:80/tcp", "192.0.2.10/32")});
  HostCondition no_device = good_host();
  no_device.liveness_up = false;
  no_device.liveness_reason = "liveness device sluice-alive is missing";
  b.update(100 * kMs, no_device, {vip("192.0.2.10:80/tcp", "192.0.2.10/32")});
  EXPECT_FALSE(announced(b, "192.0.2.10/32"));
}

TEST(BgpAnnouncer, SyncRules) {
  BgpAnnouncer a(timing(), {}, 0);
  VipCondition c = vip("192.0.2.10:80/tcp", "192.0.2.10/32");
  c.installed = false;  // not in the dataplane yet: never announced
  a.update(0, good_host(), {c});
  EXPECT_FALSE(announced(a, "192.0.2.10/32"));
  EXPECT_EQ(a.view(0)["vips"][0]["reason"], "not in the dataplane's tables yet");
  c.installed = true;
  a.update(100 * kMs, good_host(), {c});
  ASSERT_TRUE(announced(a, "192.0.2.10/32"));  // never withdrawn: no hold-down
  // A push under way: kept within the sync grace, withdrawn past it.
  c.differs = true;
  uint64_t t = 200 * kMs;
  for (; t < 200 * kMs + 5 * kS; t += 100 * kMs) {
    a.update(t, good_host(), {c});
    ASSERT_TRUE(announced(a, "192.0.2.10/32"));
  }
  a.update(t, good_host(), {c});
  EXPECT_FALSE(announced(a, "192.0.2.10/32"));
}

TEST(BgpAnnouncer, AddressIsHeldBackByAnyVipOnIt) {
  BgpAnnouncer a(timing(), {}, 0);
  a.update(0, good_host(),
           {vip("192.0.2.10:80/tcp", "192.0.2.10/32"), vip("192.0.2.10:443/tcp", "192.0.2.10/32")});
  ASSERT_TRUE(announced(a, "192.0.2.10/32"));
  a.update(100 * kMs, good_host(),
           {vip("192.0.2.10:80/tcp", "192.0.2.10/32"),
            vip("192.0.2.10:443/tcp", "192.0.2.10/32", 0, 2)});
  EXPECT_FALSE(announced(a, "192.0.2.10/32"));
  const auto view = a.view(100 * kMs);
  EXPECT_EQ(view["vips"][0]["reason"],
            "192.0.2.10:443/tcp: 0 of 2 backends active and healthy or unknown, min_healthy 1");
  // min_healthy 0: that VIP never holds its address back for health.
  BgpAnnouncer b(timing(), {}, 0);
  b.update(0, good_host(),
           {vip("192.0.2.10:80/tcp", "192.0.2.10/32"),
            vip("192.0.2.10:443/tcp", "192.0.2.10/32", 0, 2, 0)});
  EXPECT_TRUE(announced(b, "192.0.2.10/32"));
}

TEST(BgpAnnouncer, AdoptedAnnouncementsSurviveARestart) {
  BirdVipsFile adopted;
  adopted.routes.push_back(BirdRoute{"192.0.2.10/32", false, false});
  adopted.routes.push_back(BirdRoute{"192.0.2.99/32", false, false});
  BgpAnnouncer a(timing(), adopted, 0);
  EXPECT_EQ(a.desired(), adopted);
  // Not in sync yet, configuration not loaded yet: nothing changes.
  HostCondition starting = good_host();
  starting.in_sync = false;
  VipCondition c = vip("192.0.2.10:80/tcp", "192.0.2.10/32");
  c.installed = false;
  EXPECT_FALSE(a.update(100 * kMs, starting, {c}));
  EXPECT_EQ(a.desired(), adopted);
  EXPECT_TRUE(a.view(100 * kMs)["host"]["starting"].get<bool>());
  // In sync: the VIP keeps its announcement without a flap; the address no
  // VIP has any more goes.
  c.installed = true;
  a.update(200 * kMs, good_host(), {c});
  EXPECT_TRUE(announced(a, "192.0.2.10/32"));
  EXPECT_FALSE(announced(a, "192.0.2.99/32"));
  for (const auto& change : a.take_changes()) EXPECT_NE(change["prefix"], "192.0.2.10/32");
  // Never in sync: the startup grace ends and a VIP that cannot serve goes.
  BgpAnnouncer b(timing(), adopted, 0);
  HostCondition dead = starting;
  dead.dataplane_alive = false;
  b.update(9 * kS, dead, {c});
  EXPECT_TRUE(announced(b, "192.0.2.10/32"));
  b.update(10 * kS, dead, {c});
  EXPECT_FALSE(announced(b, "192.0.2.10/32"));
}

TEST(BgpAnnouncer, DrainTagsWithdrawsWaitsForQuietAndStays) {
  BgpAnnouncer a(timing(), {}, 0);
  HostCondition h = good_host();
  const std::vector<VipCondition> vips = {vip("192.0.2.10:80/tcp", "192.0.2.10/32")};
  a.update(0, h, vips);
  a.drain(1 * kS, 5 * kS, 30 * kS);
  EXPECT_EQ(a.host_state(), HostState::kGracefulShutdown);
  BirdVipsFile f = a.desired();
  ASSERT_EQ(f.routes.size(), 1u);
  EXPECT_TRUE(f.routes[0].graceful_shutdown);
  EXPECT_TRUE(f.host_drained);
  a.update(5 * kS, h, vips);
  EXPECT_TRUE(announced(a, "192.0.2.10/32"));
  // Withdrawn after the graceful-shutdown time; traffic still arrives.
  uint64_t t = 6 * kS;
  for (int i = 0; i < 30; ++i, t += 100 * kMs) {
    h.vip_packets += 10;
    a.update(t, h, vips);
    EXPECT_FALSE(announced(a, "192.0.2.10/32"));
    EXPECT_EQ(a.host_state(), HostState::kWithdrawing);
  }
  // Quiet for a second after the last packet (seen at the loop's last update): drained.
  const uint64_t last = t - 100 * kMs;
  while (a.host_state() != HostState::kDrained && t < last + 5 * kS) {
    t += 100 * kMs;
    a.update(t, h, vips);
  }
  EXPECT_EQ(a.host_state(), HostState::kDrained);
  EXPECT_GE(t - last, 1 * kS);
  EXPECT_TRUE(a.view(t)["host"]["traffic_stopped"].get<bool>());
  EXPECT_TRUE(a.desired().host_drained);
  EXPECT_TRUE(a.desired().routes.empty());
  // Undrain: announced at once, no hold-down.
  a.undrain(t);
  a.update(t + 100 * kMs, h, vips);
  EXPECT_TRUE(announced(a, "192.0.2.10/32"));
  EXPECT_FALSE(a.desired().host_drained);
}

TEST(BgpAnnouncer, DrainTimesOutWhileTrafficKeepsComing) {
  BgpAnnouncer a(timing(), {}, 0);
  HostCondition h = good_host();
  const std::vector<VipCondition> vips = {vip("192.0.2.10:80/tcp", "192.0.2.10/32")};
  a.update(0, h, vips);
  a.drain(0, 0, 3 * kS);
  uint64_t t = 0;
  while (a.host_state() != HostState::kDrained && t < 10 * kS) {
    t += 100 * kMs;
    h.vip_packets += 1;
    a.update(t, h, vips);
  }
  EXPECT_EQ(a.host_state(), HostState::kDrained);
  EXPECT_GE(t, 3 * kS);
  EXPECT_FALSE(a.view(t)["host"]["traffic_stopped"].get<bool>());
}

TEST(BgpAnnouncer, DrainedFileKeepsTheHostDrained) {
  BirdVipsFile adopted;
  adopted.host_drained = true;
  BgpAnnouncer a(timing(), adopted, 0);
  EXPECT_EQ(a.host_state(), HostState::kDrained);
  a.update(11 * kS, good_host(), {vip("192.0.2.10:80/tcp", "192.0.2.10/32")});
  EXPECT_FALSE(announced(a, "192.0.2.10/32"));
  EXPECT_TRUE(a.desired().host_drained);
}

}  // namespace
}  // namespace sluice::cp
