#include "dataplane/conn_table.h"

#include <sys/mman.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace sluice::dp {

ConnTable::ConnTable(uint64_t flows, const uint32_t (&timeout_ticks)[kConnStateCount]) {
  max_timeout_ticks_ = 0;
  for (uint32_t i = 0; i < kConnStateCount; ++i) {
    timeout_[i] = timeout_ticks[i];
    if (timeout_[i] > max_timeout_ticks_) max_timeout_ticks_ = timeout_[i];
  }
  uint64_t buckets = 1;
  while (buckets * kConnEntriesPerBucket < flows) buckets <<= 1;
  mask_ = buckets - 1;
  void* mem = mmap(nullptr, memory_bytes(), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) {
    throw std::runtime_error("cannot map " + std::to_string(memory_bytes()) +
                             " bytes for a connection table of " + std::to_string(flows) +
                             " flows: " + std::strerror(errno));
  }
  // Huge pages cut TLB misses when hits are spread over millions of flows;
  // the table still works if the kernel says no.
  madvise(mem, memory_bytes(), MADV_HUGEPAGE);
  buckets_ = static_cast<ConnBucket*>(mem);  // anonymous memory is zero: all empty
}

ConnTable::~ConnTable() { munmap(buckets_, memory_bytes()); }

uint64_t ConnTable::count_live(uint32_t now) const {
  uint64_t n = 0;
  for (uint64_t i = 0; i <= mask_; ++i) {
    for (const ConnEntry& e : buckets_[i].entry) n += live(e, now) ? 1 : 0;
  }
  return n;
}

void ConnTable::sweep(uint32_t now, uint64_t buckets) {
  if (counts_ == nullptr) return;
  for (uint64_t n = 0; n < buckets && n <= mask_; ++n) {
    ConnBucket& b = buckets_[sweep_next_];
    sweep_next_ = (sweep_next_ + 1) & mask_;
    for (ConnEntry& e : b.entry) {
      if (e.fingerprint == 0 || e.backend_id() == 0 || live(e, now)) continue;
      count_out(e);
      // Backend 0 keeps it out of the counts; the fingerprint stays, so an
      // insert still reuses it as an expired entry.
      e.set(0, e.state());
    }
  }
}

void ConnTable::clear() {
  if (counts_ != nullptr) {
    for (uint64_t i = 0; i <= mask_; ++i) {
      for (const ConnEntry& e : buckets_[i].entry) count_out(e);
    }
  }
  std::memset(static_cast<void*>(buckets_), 0, memory_bytes());
}

}  // namespace sluice::dp
