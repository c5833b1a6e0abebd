// The shared-memory segment (common/control_segment.h): create and attach
// see the same header and rings, the file is mode 0600, a segment of
// another ABI version is refused with a message saying so, a re-created
// segment is noticed (still_current), and the name has one owner: a second
// claim while the owner lives is refused naming its pid, a dead owner's
// segment is reclaimed, and the control plane's flock is not in the way.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

ino_t inode_of(const std::string& instance) {
  struct stat st {};
  return stat(("/dev/shm" + segment_name(instance)).c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST_F(Segment, RecreatedSegmentIsNoticed) {
  std::string error;
  auto first = ControlSegment::create(instance, SegmentParams{}, error);
  ASSERT_TRUE(first) << error;
  auto cp = ControlSegment::attach(instance, error);
  ASSERT_TRUE(cp) << error;
  first.reset();  // a dataplane that died: its segment stays, nobody owns it
  std::string reclaimed;
  auto second = ControlSegment::claim(instance, error, &reclaimed);
  ASSERT_TRUE(second) << error;
  ASSERT_TRUE(second->init(SegmentParams{}, error)) << error;
  EXPECT_NE(reclaimed.find("reclaimed /dev/shm" + segment_name(instance)), std::string::npos)
      << reclaimed;
  EXPECT_NE(reclaimed.find("(pid " + std::to_string(getpid()) + ")"), std::string::npos)
      << reclaimed;
  EXPECT_FALSE(cp->still_current());
  EXPECT_NE(second->header().boot_id, cp->header().boot_id);
}

TEST_F(Segment, ASecondOwnerIsRefusedWhileTheFirstLives) {
  std::string error;
  auto first = ControlSegment::create(instance, SegmentParams{}, error);
  ASSERT_TRUE(first) << error;
  const ino_t inode = inode_of(instance);
  EXPECT_FALSE(ControlSegment::claim(instance, error));
  EXPECT_NE(error.find("instance '" + instance + "' is in use: lb-dataplane pid " +
                       std::to_string(getpid()) + " owns its segment"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("another --instance"), std::string::npos) << error;
  EXPECT_FALSE(ControlSegment::create(instance, SegmentParams{}, error));
  // The first one's segment is untouched: same file, still attachable.
  EXPECT_EQ(inode_of(instance), inode);
  EXPECT_TRUE(first->still_current());
  EXPECT_TRUE(ControlSegment::attach(instance, error)) << error;
}

TEST_F(Segment, AClaimNotYetSetUpIsOwnedToo) {
  std::string error;
  auto first = ControlSegment::claim(instance, error);
  ASSERT_TRUE(first) << error;
  EXPECT_FALSE(ControlSegment::claim(instance, error));
  EXPECT_NE(error.find("another lb-dataplane is starting with its segment"), std::string::npos)
      << error;
  // A control plane finds nothing to attach to yet, and says so.
  EXPECT_FALSE(ControlSegment::attach(instance, error));
  // An owner that died before setting it up leaves an empty file: reused.
  first.reset();
  std::string reclaimed = "unset";
  auto second = ControlSegment::claim(instance, error, &reclaimed);
  ASSERT_TRUE(second) << error;
  EXPECT_EQ(reclaimed, "");
  EXPECT_TRUE(second->init(SegmentParams{}, error)) << error;
  EXPECT_FALSE(second->init(SegmentParams{}, error));  // once only
}

TEST_F(Segment, CleanExitRemovesTheSegmentAndFreesTheName) {
  std::string error;
  auto first = ControlSegment::create(instance, SegmentParams{}, error);
  ASSERT_TRUE(first) << error;
  first->unlink();
  EXPECT_EQ(inode_of(instance), 0u);
  first.reset();
  EXPECT_TRUE(ControlSegment::create(instance, SegmentParams{}, error)) << error;
}

// The control plane's one-feeder rule (controlplane/dataplane_link.cc) takes
// flock(LOCK_EX) on the segment; the owner's lock must not stand in its way,
// and a second control plane must still be kept out.
TEST_F(Segment, TheControlPlanesFlockWorksBesideTheOwnersLock) {
  std::string error;
  auto dp = ControlSegment::create(instance, SegmentParams{}, error);
  ASSERT_TRUE(dp) << error;
  const int a = shm_open(segment_name(instance).c_str(), O_RDWR | O_CLOEXEC, 0);
  const int b = shm_open(segment_name(instance).c_str(), O_RDWR | O_CLOEXEC, 0);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_EQ(flock(a, LOCK_EX | LOCK_NB), 0);
  EXPECT_NE(flock(b, LOCK_EX | LOCK_NB), 0);
  close(a);
  close(b);
  // And an attached control plane does not make the name look free.
  auto cp = ControlSegment::attach(instance, error);
  ASSERT_TRUE(cp) << error;
  EXPECT_FALSE(ControlSegment::claim(instance, error));
}

}  // namespace
}  // namespace sluice
