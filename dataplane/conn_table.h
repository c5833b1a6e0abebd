// Per-lcore connection table: flow -> backend id, owned by one worker, no
// locks (DESIGN.md section 2, step 4; CONVENTIONS.md item 8).
//
// Buckets are one cache line of four 16-byte entries. An entry is the flow's
// 64-bit fingerprint (the second lane of flow_hash), the backend id and the
// tick at which it expires; the bucket comes from the first lane. Expiry is
// lazy: a lookup ignores expired entries and an insert reuses them. When a
// bucket holds four live flows the insert fails and is counted; live flows
// are never evicted (a flood of new flows cannot push established ones out).
// Only the owning lcore calls any method.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::dp {

struct ConnEntry {
  uint64_t fingerprint;  // 0 = empty
  uint32_t backend_id;
  uint32_t expires;      // tick; compared with wrap-around arithmetic
};

inline constexpr uint32_t kConnEntriesPerBucket = 4;

struct alignas(64) ConnBucket {
  ConnEntry entry[kConnEntriesPerBucket];
};
static_assert(sizeof(ConnBucket) == 64);

enum class ConnInsert : uint8_t { kInserted, kReusedExpired, kFailed };

class ConnTable {
 public:
  // Room for at least `flows` entries (rounded up to a power-of-two number of
  // buckets). Memory comes from mmap with transparent huge pages requested.
  // Throws std::runtime_error if the memory cannot be had (start-up only).
  // `max_timeout_ticks` is the longest idle timeout any entry gets: an entry
  // counts as live while it expires within that horizon, so a 32-bit tick
  // that wrapped around cannot bring a long-dead entry back for more than
  // one timeout every 2^32 ticks.
  ConnTable(uint64_t flows, uint32_t max_timeout_ticks);
  ~ConnTable();
  ConnTable(const ConnTable&) = delete;
  ConnTable& operator=(const ConnTable&) = delete;

  uint64_t capacity() const { return (mask_ + 1) * kConnEntriesPerBucket; }
  size_t memory_bytes() const { return (mask_ + 1) * sizeof(ConnBucket); }

  void prefetch(uint64_t hash) const { __builtin_prefetch(&buckets_[hash & mask_], 1, 3); }

  bool live(const ConnEntry& e, uint32_t now) const {
    return e.fingerprint != 0 && e.expires - now - 1 < max_timeout_ticks_;
  }

  // The live entry for the flow, or nullptr.
  ConnEntry* lookup(uint64_t hash, uint64_t fingerprint, uint32_t now) {
    ConnBucket& b = buckets_[hash & mask_];
    for (ConnEntry& e : b.entry) {
      if (e.fingerprint == fingerprint && live(e, now)) return &e;
    }
    return nullptr;
  }

  ConnInsert insert(uint64_t hash, uint64_t fingerprint, uint32_t backend_id, uint32_t expires,
                    uint32_t now) {
    ConnBucket& b = buckets_[hash & mask_];
    // The first entry that is not live. Entries fill a bucket in order and
    // are never emptied, so an expired one comes before any empty one and is
    // reused first: dead flows do not linger next to fresh ones.
    for (ConnEntry& e : b.entry) {
      if (live(e, now)) continue;
      const bool reused = e.fingerprint != 0;
      e = ConnEntry{fingerprint, backend_id, expires};
      return reused ? ConnInsert::kReusedExpired : ConnInsert::kInserted;
    }
    return ConnInsert::kFailed;
  }

  // Live entries (walks the whole table: for tests and tools, not the loop).
  uint64_t count_live(uint32_t now) const;
  void clear();

 private:
  ConnBucket* buckets_ = nullptr;
  uint64_t mask_ = 0;
  uint32_t max_timeout_ticks_;
};

}  // namespace sluice::dp
