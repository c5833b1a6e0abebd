// The shared-memory segment (common/control_segment.h): create and attach
// see the same header and rings, the file is mode 0600, a segment of
// another ABI version is refused with a message saying so, and a
// re-created segment is noticed (still_current).
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include "common/control_segment.h"
#include "tests/controlplane/test_util.h"

namespace sluice {
namespace {

class Segment : public ::testing::Test {
 protected:
  void TearDown() override { shm_unlink(segment_name(instance).c_str()); }
  std::string instance = test::unique_name("test");
};

TEST_F(Segment, CreateThenAttach) {
  SegmentParams p;
  p.hash_seed = 1234;
  p.worker_lcores = 2;
  p.max_vips = 16;
  p.max_backend_id = 64;
  p.cmd_slots = 64;
  p.event_slots = 16;
  std::string error;
  auto dp = ControlSegment::create(instance, p, error);
  ASSERT_TRUE(dp) << error;
  auto cp = ControlSegment::attach(instance, error);
  ASSERT_TRUE(cp) << error;
  EXPECT_EQ(cp->header().boot_id, dp->header().boot_id);
  EXPECT_EQ(cp->header().hash_seed, 1234u);
  EXPECT_EQ(cp->header().worker_lcores, 2u);
  EXPECT_EQ(cp->header().max_vips, 16u);
  EXPECT_EQ(cp->header().max_backend_id, 64u);
  EXPECT_EQ(cp->header().pid, static_cast<uint32_t>(getpid()));
  EXPECT_TRUE(cp->still_current());
  // Commands go one way, events the other.
  Record r{};
  r[0] = 7;
  ASSERT_TRUE(cp->commands().push(r.data(), r.size()));
  Record got{};
  ASSERT_TRUE(dp->commands().pop(got.data()));
  EXPECT_EQ(got[0], 7);
  r[0] = 9;
  ASSERT_TRUE(dp->events().push(r.data(), r.size()));
  ASSERT_TRUE(cp->events().pop(got.data()));
  EXPECT_EQ(got[0], 9);
  // Counters written by the dataplane side are visible to the control plane.
  dp->vip_counters(1)[16].packets = 5;
  dp->backend_counters(1)[64].new_flows = 6;
  EXPECT_EQ(cp->vip_counters(1)[16].packets, 5u);
  EXPECT_EQ(cp->backend_counters(1)[64].new_flows, 6u);
}

TEST_F(Segment, FileIsMode0600) {
  std::string error;
  const mode_t old = umask(0);  // whatever the umask
  auto dp = ControlSegment::create(instance, SegmentParams{}, error);
  umask(old);
  ASSERT_TRUE(dp) << error;
  struct stat st {};
  ASSERT_EQ(stat(("/dev/shm" + segment_name(instance)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(Segment, AbiMismatchIsRefused) {
  std::string error;
  auto dp = ControlSegment::create(instance, SegmentParams{}, error);
  ASSERT_TRUE(dp) << error;
  dp->header().abi_version = kAbiVersion + 1;
  auto cp = ControlSegment::attach(instance, error);
  EXPECT_FALSE(cp);
  EXPECT_NE(error.find("ABI version " + std::to_string(kAbiVersion + 1)), std::string::npos)
      << error;
  EXPECT_NE(error.find("this program speaks " + std::to_string(kAbiVersion)), std::string::npos)
      << error;
  dp->header().abi_version = kAbiVersion;
  dp->header().magic = 0;
  EXPECT_FALSE(ControlSegment::attach(instance, error));
  EXPECT_NE(error.find("bad magic"), std::string::npos) << error;
}

TEST_F(Segment, MissingSegmentIsExplained) {
  std::string error;
  EXPECT_FALSE(ControlSegment::attach(instance, error));
  EXPECT_NE(error.find("--instance " + instance), std::string::npos) << error;
}

TEST_F(Segment, RecreatedSegmentIsNoticed) {
  std::string error;
  auto first = ControlSegment::create(instance, SegmentParams{}, error);
  ASSERT_TRUE(first) << error;
  auto cp = ControlSegment::attach(instance, error);
  ASSERT_TRUE(cp) << error;
  auto second = ControlSegment::create(instance, SegmentParams{}, error);
  ASSERT_TRUE(second) << error;
  EXPECT_FALSE(cp->still_current());
  EXPECT_NE(second->header().boot_id, cp->header().boot_id);
}

}  // namespace
}  // namespace sluice
