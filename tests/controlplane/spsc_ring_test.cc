// The shared-memory SPSC ring (common/spsc_ring.h): FIFO order, wrap-around
// of the free-running indices, a full ring refusing (never overwriting), and
// two threads passing 5,000,000 sequence-numbered records with no loss,
// duplication or reordering.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "common/spsc_ring.h"

namespace sluice {
namespace {

struct RingMemory {
  explicit RingMemory(uint32_t slots, uint32_t record_size) {
    const size_t size = SpscRing::memory_size(slots, record_size);
    mem = static_cast<uint8_t*>(std::aligned_alloc(64, (size + 63) / 64 * 64));
    ring = SpscRing::create(mem, slots, record_size);
  }
  ~RingMemory() { std::free(mem); }
  uint8_t* mem;
  SpscRing ring;
};

struct Rec {
  uint64_t seq;
  uint64_t check;
};

TEST(SpscRing, KeepsOrder) {
  RingMemory m(8, sizeof(Rec));
  for (uint64_t i = 0; i < 5; ++i) {
    Rec r{i, ~i};
    ASSERT_TRUE(m.ring.push(&r, sizeof r));
  }
  EXPECT_EQ(m.ring.used(), 5u);
  for (uint64_t i = 0; i < 5; ++i) {
    Rec r{};
    ASSERT_TRUE(m.ring.pop(&r));
    EXPECT_EQ(r.seq, i);
    EXPECT_EQ(r.check, ~i);
  }
  Rec r{};
  EXPECT_FALSE(m.ring.pop(&r));
  EXPECT_EQ(m.ring.used(), 0u);
}

TEST(SpscRing, WrapsAroundManyTimes) {
  RingMemory m(4, sizeof(Rec));
  uint64_t next_in = 0, next_out = 0;
  // Uneven batches so every slot boundary is crossed in every phase.
  for (int round = 0; round < 1000; ++round) {
    const int n = 1 + round % 4;
    for (int i = 0; i < n; ++i) {
      Rec r{next_in, ~next_in};
      ASSERT_TRUE(m.ring.push(&r, sizeof r));
      ++next_in;
    }
    for (int i = 0; i < n; ++i) {
      Rec r{};
      ASSERT_TRUE(m.ring.pop(&r));
      ASSERT_EQ(r.seq, next_out);
      ASSERT_EQ(r.check, ~next_out);
      ++next_out;
    }
  }
  EXPECT_EQ(next_out, next_in);
}

TEST(SpscRing, FullRingRefusesAndKeepsWhatItHas) {
  RingMemory m(4, sizeof(Rec));
  for (uint64_t i = 0; i < 4; ++i) {
    Rec r{i, 0};
    ASSERT_TRUE(m.ring.push(&r, sizeof r));
  }
  Rec extra{99, 0};
  EXPECT_FALSE(m.ring.push(&extra, sizeof extra));
  EXPECT_EQ(m.ring.used(), 4u);
  Rec r{};
  ASSERT_TRUE(m.ring.pop(&r));
  EXPECT_EQ(r.seq, 0u);
  ASSERT_TRUE(m.ring.push(&extra, sizeof extra));  // one slot free again
  for (uint64_t want : {1u, 2u, 3u, 99u}) {
    ASSERT_TRUE(m.ring.pop(&r));
    EXPECT_EQ(r.seq, want);
  }
}

TEST(SpscRing, ShortRecordsAreZeroPadded) {
  RingMemory m(1, 32);  // one slot: the second record reuses the first's
  uint8_t big[32];
  std::memset(big, 0xab, sizeof big);
  ASSERT_TRUE(m.ring.push(big, sizeof big));
  ASSERT_TRUE(m.ring.pop(big));
  const uint8_t small[4] = {1, 2, 3, 4};
  ASSERT_TRUE(m.ring.push(small, sizeof small));
  uint8_t out[32];
  ASSERT_TRUE(m.ring.pop(out));
  EXPECT_EQ(out[3], 4);
  for (int i = 4; i < 32; ++i) EXPECT_EQ(out[i], 0) << i;
}

TEST(SpscRing, TwoThreadsFiveMillionRecords) {
  constexpr uint64_t kCount = 5'000'000;
  RingMemory m(1024, sizeof(Rec));
  SpscRing producer_view = SpscRing::attach(m.mem);  // as another process would
  std::thread producer([&] {
    for (uint64_t i = 0; i < kCount;) {
      Rec r{i, i * 0x9e3779b97f4a7c15ull};
      if (producer_view.push(&r, sizeof r)) {
        ++i;
      } else {
        std::this_thread::yield();  // two cores: let the consumer run
      }
    }
  });
  uint64_t expected = 0, bad = 0, received = 0;
  while (expected < kCount) {
    Rec r{};
    if (!m.ring.pop(&r)) {
      std::this_thread::yield();
      continue;
    }
    ++received;
    if (r.seq != expected || r.check != expected * 0x9e3779b97f4a7c15ull) ++bad;
    expected = r.seq + 1;
  }
  producer.join();
  Rec r{};
  EXPECT_FALSE(m.ring.pop(&r)) << "a duplicate after the last record";
  EXPECT_EQ(bad, 0u) << "records lost, duplicated, reordered or torn";
  EXPECT_EQ(expected, kCount);
  EXPECT_EQ(received, kCount);
}

}  // namespace
}  // namespace sluice
