#include "health/schedule.h"

#include <algorithm>

namespace sluice::health {

uint64_t first_due_ns(uint64_t now_ns, uint32_t interval_ms, Rng& rng) {
  const uint64_t interval = uint64_t{interval_ms} * kMsNs;
  return now_ns + std::uniform_int_distribution<uint64_t>(0, interval - 1)(rng);
}

uint64_t next_due_ns(uint64_t prev_due_ns, uint64_t now_ns, uint32_t interval_ms,
                     uint32_t jitter_percent, Rng& rng) {
  const int64_t interval = int64_t{interval_ms} * int64_t{kMsNs};
  const int64_t half_span = interval * std::min<uint32_t>(jitter_percent, 50) / 200;
  const int64_t jitter =
      half_span == 0 ? 0 : std::uniform_int_distribution<int64_t>(-half_span, half_span)(rng);
  const uint64_t due = prev_due_ns + static_cast<uint64_t>(interval + jitter);
  return std::max(due, now_ns);
}

}  // namespace sluice::health
