// Table publication (DESIGN.md section 4): one pointer store per apply, a
// refused config changes nothing, and a retired snapshot is freed only once
// every registered worker has reported quiescence, never earlier.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "dataplane/table_publisher.h"
#include "tests/dpdk_test_env.h"

namespace sluice::dp {
namespace {

TableConfig config_with_backends(uint32_t backends) {
  TableConfig c;
  VipConfig vip;
  vip.id = 1;
  vip.address = *parse_ip_address("192.0.2.10");
  vip.port = 80;
  vip.protocol = 6;
  vip.table_size = 251;
  for (uint32_t i = 1; i <= backends; ++i) {
    BackendConfig be;
    be.id = i;
    be.name = "be" + std::to_string(i);
    be.address = *parse_ip_address("198.51.100." + std::to_string(i));
    vip.backends.push_back(be);
  }
  c.vips.push_back(vip);
  return c;
}

class TablePublisherTest : public ::testing::Test {
 protected:
  void SetUp() override { test::dpdk_test_env(); }
  TableLimits limits_;
};

TEST_F(TablePublisherTest, RetiredTablesWaitForEveryWorker) {
  TablePublisher p(limits_, 2);
  p.register_reader(0);
  p.register_reader(1);
  const TableSnapshot* before = p.current();
  ASSERT_TRUE(p.apply(config_with_backends(3)).ok);
  EXPECT_NE(p.current(), before);
  EXPECT_EQ(p.current()->generation, 1u);
  EXPECT_EQ(p.pending_reclaims(), 1u) << "freed while both workers may still hold it";

  p.report_quiescent(0);
  p.reclaim();
  EXPECT_EQ(p.pending_reclaims(), 1u) << "freed while worker 1 may still hold it";

  p.report_quiescent(1);
  p.reclaim();
  EXPECT_EQ(p.pending_reclaims(), 0u);

  // Two more applies before anyone reports: both wait.
  ASSERT_TRUE(p.apply(config_with_backends(2)).ok);
  ASSERT_TRUE(p.apply(config_with_backends(1)).ok);
  EXPECT_EQ(p.pending_reclaims(), 2u);
  p.report_quiescent(0);
  p.report_quiescent(1);
  p.reclaim();
  EXPECT_EQ(p.pending_reclaims(), 0u);
  EXPECT_EQ(p.generation(), 3u);
  p.unregister_reader(0);
  p.unregister_reader(1);
}

TEST_F(TablePublisherTest, RefusedConfigChangesNothing) {
  TablePublisher p(limits_, 1);
  ASSERT_TRUE(p.apply(config_with_backends(3)).ok);
  const TableSnapshot* published = p.current();
  TableConfig bad = config_with_backends(3);
  bad.vips[0].table_size = 250;  // not a prime
  const ApplyResult r = p.apply(bad);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("table_size 250"), std::string::npos) << r.error;
  EXPECT_EQ(r.generation, 1u);
  EXPECT_EQ(p.current(), published);
  EXPECT_EQ(p.generation(), 1u);
  EXPECT_EQ(p.pending_reclaims(), 0u);
}

// A worker thread reads the published tables without locks while the main
// thread publishes 2,000 configurations: every snapshot it sees is whole
// (its backend count matches its generation) and none is freed under it.
TEST_F(TablePublisherTest, WorkersNeverSeeAHalfBuiltOrFreedTable) {
  TablePublisher p(limits_, 1);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0}, torn{0};
  std::thread worker([&] {
    p.register_reader(0);
    while (!stop.load(std::memory_order_relaxed)) {
      const TableSnapshot* t = p.current();
      if (t->generation > 0) {
        // Generation g installs (g % 7) + 1 backends.
        uint32_t present = 0;
        for (uint32_t id = 1; id <= 8; ++id) present += t->backends[id].vip_id == 1 ? 1 : 0;
        const uint32_t slots_ok = t->vips.size() == 1 && t->vips[0].maglev_size == 251;
        if (present != (t->generation % 7) + 1 || !slots_ok) torn.fetch_add(1);
      }
      reads.fetch_add(1, std::memory_order_relaxed);
      p.report_quiescent(0);
    }
    p.unregister_reader(0);
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  bool applied = true;
  for (uint32_t g = 1; g <= 2000 && applied && std::chrono::steady_clock::now() < deadline; ++g) {
    applied = p.apply(config_with_backends((g % 7) + 1)).ok;
  }
  EXPECT_TRUE(applied);
  // Let the worker read the last one too, then stop it.
  const uint64_t seen = reads.load();
  while (reads.load() < seen + 100 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  stop.store(true);
  worker.join();
  p.reclaim();
  EXPECT_EQ(torn.load(), 0u);
  EXPECT_GT(reads.load(), 0u);
  EXPECT_EQ(p.pending_reclaims(), 0u) << "an offline worker holds nothing";
}

}  // namespace
}  // namespace sluice::dp
