// Per-lcore connection table: flow -> backend id and state, owned by one
// worker, no locks (DESIGN.md sections 2 and 3; CONVENTIONS.md item 8).
//
// Buckets are one cache line of four 16-byte entries. An entry is the flow's
// 64-bit fingerprint (the second lane of flow_hash), the tick at which it
// expires, and its backend id with its state (common/conn_state.h); the
// bucket comes from the first lane. Each state has its own timeout, so an
// entry's last use is its expiry minus its state's timeout. Expiry is lazy:
// a lookup ignores expired entries and an insert reuses them.
//
// Room for real flows: when a bucket holds four live entries, a new entry
// takes, in this order, an expired entry, the oldest half-open one, the
// oldest closing one, and only then the least recently used established
// (or UDP) one; a new half-open entry never takes an established or UDP
// entry's place, so a SYN flood cannot push confirmed flows out. Only the
// owning lcore calls any method.
//
// Connection counts (least-connections, power-of-two): every change of an
// entry's backend or state goes through touch(), which counts the entry out
// of its old (backend, class) and into the new one in the lcore's
// per-backend counters (TrafficCounters active_* / inactive_*). An expired
// entry stays counted until an insert reuses it or sweep() finds it, which
// then sets its backend to 0 ("none": counted nowhere).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/conn_state.h"
#include "common/counters.h"

namespace sluice::dp {

// Backend ids fit in 24 bits (lb-dataplane --max-backend-id); the state
// takes the top byte.
inline constexpr uint32_t kConnBackendBits = 24;
inline constexpr uint32_t kConnMaxBackendId = (1u << kConnBackendBits) - 1;

struct ConnEntry {
  uint64_t fingerprint;  // 0 = empty
  uint32_t expires;      // tick; compared with wrap-around arithmetic
  uint32_t backend_and_state;

  uint32_t backend_id() const { return backend_and_state & kConnMaxBackendId; }
  ConnState state() const { return static_cast<ConnState>(backend_and_state >> kConnBackendBits); }
  void set(uint32_t backend_id, ConnState s) {
    backend_and_state = backend_id | static_cast<uint32_t>(s) << kConnBackendBits;
  }
};

inline constexpr uint32_t kConnEntriesPerBucket = 4;

struct alignas(64) ConnBucket {
  ConnEntry entry[kConnEntriesPerBucket];
};
static_assert(sizeof(ConnBucket) == 64);

// How an insert found room, for the counters.
enum class ConnInsert : uint8_t {
  kInserted,          // an empty slot
  kReusedExpired,     // an expired entry
  kReplacedHalfOpen,  // the bucket's oldest half-open entry
  kReplacedClosing,   // the bucket's oldest closing entry
  kReplacedLru,       // the bucket's least recently used established or UDP entry
  kFailed,            // a half-open entry and a bucket of established flows
};

class ConnTable {
 public:
  // Room for at least `flows` entries (rounded up to a power-of-two number of
  // buckets). Memory comes from mmap with transparent huge pages requested.
  // Throws std::runtime_error if the memory cannot be had (start-up only).
  // `timeout_ticks[state]` is how long an entry in that state lives
  // unused; each is at most UINT32_MAX / 4. An entry counts as live while
  // it expires within the longest of them, so a 32-bit tick that wrapped
  // around cannot bring a long-dead entry back for more than one timeout
  // every 2^32 ticks.
  ConnTable(uint64_t flows, const uint32_t (&timeout_ticks)[kConnStateCount]);
  ~ConnTable();
  ConnTable(const ConnTable&) = delete;
  ConnTable& operator=(const ConnTable&) = delete;

  uint64_t capacity() const { return (mask_ + 1) * kConnEntriesPerBucket; }
  size_t memory_bytes() const { return (mask_ + 1) * sizeof(ConnBucket); }
  uint32_t timeout(ConnState s) const { return timeout_[static_cast<uint32_t>(s)]; }

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

  // Where entries are counted by backend and class (indexed by backend id;
  // null: nowhere).
  void set_counts(TrafficCounters* per_backend) { counts_ = per_backend; }

  // A used entry: its new state, and its timeout from now.
  void touch(ConnEntry& e, uint32_t backend_id, ConnState s, uint32_t now) {
    if (counts_ != nullptr) {
      count_out(e);
      TrafficCounters& c = counts_[backend_id];
      ++(s == ConnState::kEstablished ? c.active_in : c.inactive_in);
    }
    e.set(backend_id, s);
    e.expires = now + timeout(s);
  }

  // Looks at the next `buckets` buckets (wrapping around) and takes the
  // expired entries among them out of the counts. The worker loop calls it
  // so that the whole table is looked at every few seconds.
  void sweep(uint32_t now, uint64_t buckets);
  uint64_t buckets() const { return mask_ + 1; }

  // Enters a flow the table does not hold (lookup() found nothing).
  ConnInsert insert(uint64_t hash, uint64_t fingerprint, uint32_t backend_id, ConnState s,
                    uint32_t now) {
    ConnBucket& b = buckets_[hash & mask_];
    ConnEntry* victim = nullptr;
    uint32_t victim_rank = 0;
    uint32_t victim_idle = 0;
    for (ConnEntry& e : b.entry) {
      if (!live(e, now)) {
        // Entries fill a bucket in order and are never emptied, so an
        // expired one comes before any empty one and is reused first.
        const ConnInsert how =
            e.fingerprint != 0 ? ConnInsert::kReusedExpired : ConnInsert::kInserted;
        e.fingerprint = fingerprint;
        touch(e, backend_id, s, now);
        return how;
      }
      // Lower rank goes first: half-open, closing, then established / UDP;
      // within a rank the one idle longest.
      const uint32_t rank = replacement_rank(e.state());
      const uint32_t idle = now - (e.expires - timeout(e.state()));
      if (victim == nullptr || rank < victim_rank || (rank == victim_rank && idle > victim_idle)) {
        victim = &e;
        victim_rank = rank;
        victim_idle = idle;
      }
    }
    if (victim_rank == kRankEstablished && s == ConnState::kHalfOpen) return ConnInsert::kFailed;
    static constexpr ConnInsert kByRank[] = {ConnInsert::kReplacedHalfOpen,
                                             ConnInsert::kReplacedClosing, ConnInsert::kReplacedLru};
    victim->fingerprint = fingerprint;
    touch(*victim, backend_id, s, now);
    return kByRank[victim_rank];
  }

  // Live entries (walks the whole table: for tests and tools, not the loop).
  uint64_t count_live(uint32_t now) const;
  void clear();

 private:
  static constexpr uint32_t kRankEstablished = 2;
  void count_out(const ConnEntry& e) {
    const uint32_t id = e.backend_id();
    if (id == 0) return;
    TrafficCounters& c = counts_[id];
    ++(e.state() == ConnState::kEstablished ? c.active_out : c.inactive_out);
  }
  static uint32_t replacement_rank(ConnState s) {
    switch (s) {
      case ConnState::kHalfOpen: return 0;
      case ConnState::kClosing: return 1;
      case ConnState::kEstablished:
      case ConnState::kUdp: break;
    }
    return kRankEstablished;
  }

  ConnBucket* buckets_ = nullptr;
  uint64_t mask_ = 0;
  uint32_t timeout_[kConnStateCount];
  uint32_t max_timeout_ticks_;
  TrafficCounters* counts_ = nullptr;
  uint64_t sweep_next_ = 0;  // the bucket sweep() looks at next
};

}  // namespace sluice::dp
