// Incremental table builds (DESIGN.md section 4, "a change costs what it
// changes"): a change rebuilds only the VIPs whose Maglev inputs changed and
// the new snapshot shares every other VIP's table with the old one (pointer
// equality); a table no snapshot uses any more is freed only after the RCU
// grace period of the snapshot that dropped it; every refusal (validation,
// cross-VIP conflicts, budget, allocation failure, a delta naming what is
// not there) changes nothing; and the builder's applied configuration and
// digest follow the reference model (apply_delta) through a sequence.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>

#include "common/config_digest.h"
#include "common/table_delta.h"
#include "dataplane/table_builder.h"
#include "dataplane/table_publisher.h"
#include "tests/dpdk_test_env.h"

namespace sluice::dp {
namespace {

TableConfig config(uint32_t vips, uint32_t backends_per_vip, uint32_t table_size = 251) {
  TableConfig c;
  for (uint32_t v = 1; v <= vips; ++v) {
    VipConfig vip;
    vip.id = v;
    vip.address = *parse_ip_address("192.0.2." + std::to_string(v));
    vip.port = 80;
    vip.protocol = 6;
    vip.table_size = table_size;
    for (uint32_t b = 1; b <= backends_per_vip; ++b) {
      BackendConfig be;
      be.id = (v - 1) * backends_per_vip + b;
      be.name = "be-" + std::to_string(v) + "-" + std::to_string(b);
      be.address = *parse_ip_address("198.51.100." + std::to_string(b));
      vip.backends.push_back(be);
    }
    c.vips.push_back(vip);
  }
  return c;
}

const VipEntry& entry(const TableSnapshot& t, uint32_t vip_id) {
  for (const VipEntry& v : t.vips) {
    if (v.id == vip_id) return v;
  }
  throw std::logic_error("no VIP " + std::to_string(vip_id));
}

TEST(TableBuilder, OneBackendChangeRebuildsOneVipAndSharesTheRest) {
  TableBuilder b{TableLimits{}};
  const TableConfig base = config(50, 4);
  const auto first = b.build(full_delta(base), 1);
  ASSERT_NE(first.snapshot, nullptr) << first.error;
  EXPECT_EQ(first.rebuilt_vips, 50u);

  TableConfig next = base;
  next.vips[17].backends[2].state = BackendState::kDraining;
  const auto second = b.build(diff_configs(base, next), 2);
  ASSERT_NE(second.snapshot, nullptr) << second.error;
  EXPECT_EQ(second.rebuilt_vips, 1u);
  for (uint32_t id = 1; id <= 50; ++id) {
    const bool changed = id == 18;
    EXPECT_EQ(entry(*first.snapshot, id).maglev == entry(*second.snapshot, id).maglev, !changed)
        << "VIP " << id;
  }
  // The drained backend keeps its flows but takes no turns.
  const BackendConfig& drained = next.vips[17].backends[2];
  EXPECT_EQ(second.snapshot->backends[drained.id].keeps_flows, 1);
  const VipEntry& v = entry(*second.snapshot, 18);
  for (uint32_t s = 0; s < v.maglev_size; ++s) EXPECT_NE(v.maglev[s], drained.id);
  EXPECT_EQ(b.digest(), config_digest(next));

  // A change that does not touch Maglev inputs (the encapsulation) shares
  // the table too.
  TableConfig gue = next;
  gue.vips[3].encap = Encap::kGue;
  const auto third = b.build(diff_configs(next, gue), 3);
  ASSERT_NE(third.snapshot, nullptr) << third.error;
  EXPECT_EQ(third.rebuilt_vips, 0u);
  EXPECT_EQ(entry(*third.snapshot, 4).maglev, entry(*second.snapshot, 4).maglev);
  EXPECT_EQ(entry(*third.snapshot, 4).encap, Encap::kGue);
}

TEST(TableBuilder, FollowsTheReferenceModelThroughASequence) {
  TableBuilder b{TableLimits{}};
  TableConfig model;
  TableConfig target = config(6, 3);
  uint64_t generation = 0;
  auto step = [&](const TableConfig& to) {
    const TableDelta d = diff_configs(model, to);
    const auto r = b.build(d, ++generation);
    ASSERT_NE(r.snapshot, nullptr) << r.error;
    ASSERT_EQ(apply_delta(model, d), "");
    EXPECT_EQ(b.digest(), config_digest(model));
    EXPECT_EQ(config_digest(b.applied_config()), config_digest(model));
    EXPECT_EQ(r.snapshot->vips.size(), model.vips.size());
    for (const VipConfig& vip : model.vips) {
      const VipEntry* e = r.snapshot->find_vip(vip.address.family, vip.address.bytes,
                                               static_cast<uint16_t>(vip.port >> 8 | vip.port << 8),
                                               vip.protocol);
      ASSERT_NE(e, nullptr);
      EXPECT_EQ(e->id, vip.id);
      for (const BackendConfig& be : vip.backends) {
        EXPECT_EQ(r.snapshot->backends[be.id].vip_id, vip.id);
      }
    }
  };
  step(target);
  target.vips.erase(target.vips.begin() + 2);  // a VIP goes
  step(target);
  target.vips[0].backends.pop_back();          // a backend goes
  target.vips[1].backends[0].weight = 5;       // a weight
  step(target);
  BackendConfig moved = target.vips[1].backends[2];
  target.vips[1].backends.pop_back();          // a backend id moves to another VIP
  moved.name = "moved";
  moved.address = *parse_ip_address("198.51.100.77");
  target.vips[3].backends.push_back(moved);
  step(target);
  target.vips[4].address = *parse_ip_address("192.0.2.200");  // a VIP changes its key
  step(target);
  step(TableConfig{});                          // everything goes
}

TEST(TableBuilder, RefusalsChangeNothing) {
  TableLimits limits;
  limits.max_vips = 8;
  limits.table_memory_budget = 8 * (251 * 4 + 4096);
  TableBuilder b{limits};
  const TableConfig base = config(4, 2);
  ASSERT_NE(b.build(full_delta(base), 1).snapshot, nullptr);
  const uint64_t digest = b.digest();
  auto refused = [&](const TableDelta& d, const std::string& expect) {
    const auto r = b.build(d, 2);
    EXPECT_EQ(r.snapshot, nullptr);
    EXPECT_NE(r.error.find(expect), std::string::npos) << r.error;
    EXPECT_EQ(b.digest(), digest);
    EXPECT_EQ(config_digest(b.applied_config()), digest);
  };
  TableConfig c = base;
  c.vips[1].address = c.vips[0].address;  // two VIPs on one key
  refused(diff_configs(base, c), "duplicate VIP");
  c = base;
  c.vips[1].backends[0].id = c.vips[0].backends[0].id;  // one backend id twice
  refused(diff_configs(base, c), "used twice");
  c = base;
  c.vips[2].table_size = 100;
  refused(diff_configs(base, c), "not a prime");
  c = config(9, 1);
  refused(diff_configs(base, c), "id 9 is out of range [1, 8]");
  c = base;
  c.vips[0].table_size = 65537;
  refused(diff_configs(base, c), "memory budget");
  TableDelta missing;
  missing.backend_deletes.push_back(BackendDelete{3, 999});
  refused(missing, "no backend with id 999");
  missing = TableDelta{};
  missing.backend_upserts.push_back(BackendUpsert{77, base.vips[0].backends[0]});
  refused(missing, "no such VIP");

  // An allocation failure in the middle of a build (lb-dataplane
  // --test-alloc-fail-mb): refused, the previous tables stay.
  b.set_faults(BuildFaults{0, 3 * 251 * 4});
  c = base;
  for (VipConfig& v : c.vips) v.backends[0].weight = 3;
  refused(diff_configs(base, c), "out of memory");
  b.set_faults(BuildFaults{});
  // And the builder still works afterwards.
  const auto ok = b.build(diff_configs(base, c), 2);
  ASSERT_NE(ok.snapshot, nullptr) << ok.error;
  EXPECT_EQ(b.digest(), config_digest(c));
}

TEST(TableBuilder, ParallelBuildsMakeTheSameTables) {
  const TableConfig c = config(40, 5, 1021);
  TableBuilder one{TableLimits{}};
  TableBuilder four{TableLimits{}};
  four.set_threads(4);
  std::atomic<uint32_t> done{0}, total{0};
  const auto a = one.build(full_delta(c), 1);
  const auto b = four.build(full_delta(c), 1, BuildProgress{&done, &total});
  ASSERT_NE(a.snapshot, nullptr);
  ASSERT_NE(b.snapshot, nullptr);
  EXPECT_EQ(b.rebuilt_vips, 40u);
  EXPECT_EQ(done.load(), 40u);
  EXPECT_EQ(total.load(), 40u);
  for (uint32_t id = 1; id <= 40; ++id) {
    const VipEntry& x = entry(*a.snapshot, id);
    const VipEntry& y = entry(*b.snapshot, id);
    ASSERT_EQ(x.maglev_size, y.maglev_size);
    EXPECT_TRUE(std::equal(x.maglev, x.maglev + x.maglev_size, y.maglev)) << "VIP " << id;
  }
  EXPECT_EQ(one.digest(), four.digest());
  // An allocation failure on one of the threads refuses the whole build.
  four.set_faults(BuildFaults{0, 10 * 1021 * 4});
  TableConfig bigger = c;
  for (VipConfig& v : bigger.vips) v.table_size = 1031;
  const auto r = four.build(diff_configs(c, bigger), 2);
  EXPECT_EQ(r.snapshot, nullptr);
  EXPECT_NE(r.error.find("out of memory"), std::string::npos) << r.error;
  EXPECT_EQ(four.digest(), one.digest());
}

class SharedTableReclaim : public ::testing::Test {
 protected:
  void SetUp() override { test::dpdk_test_env(); }
};

TEST_F(SharedTableReclaim, RemovedTablesLiveUntilTheGracePeriodEnds) {
  TablePublisher p(TableLimits{}, 1);
  p.register_reader(0);
  const TableConfig base = config(3, 2);
  ASSERT_TRUE(p.apply(base).ok);
  p.report_quiescent(0);
  p.reclaim();
  // A worker holds the snapshot with VIP 2 from here on.
  const TableSnapshot* held = p.current();
  const VipEntry& v2 = entry(*held, 2);
  const std::weak_ptr<const MaglevTable> v2_table = held->maglev[&v2 - held->vips.data()];
  const std::weak_ptr<const MaglevTable> v1_table = held->maglev[0];

  TableConfig fewer = base;
  fewer.vips.erase(fewer.vips.begin() + 1);
  const ApplyResult r = p.apply(diff_configs(base, fewer));
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.rebuilt_vips, 0u);
  p.reclaim();
  EXPECT_FALSE(v2_table.expired()) << "freed while a worker may still read it";
  EXPECT_EQ(v2.maglev[0] != 0, true);  // still readable
  // VIP 1's table is shared by the new snapshot.
  EXPECT_EQ(p.current()->maglev[0], v1_table.lock());

  p.report_quiescent(0);
  p.reclaim();
  EXPECT_TRUE(v2_table.expired()) << "not freed after the grace period";
  EXPECT_FALSE(v1_table.expired()) << "a table still in use was freed";
  p.unregister_reader(0);
}

}  // namespace
}  // namespace sluice::dp
