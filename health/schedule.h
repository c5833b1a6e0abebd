// When each backend's next probe is due (DESIGN.md section 5: each backend
// on its own interval, with jitter so probes do not burst together). The
// first probe of a target comes at a uniformly random point of its first
// interval, which spreads thousands of targets added at once evenly; each
// later one is due one interval after the previous due time (not after the
// previous probe ended, so latency never stretches the interval), give or
// take jitter_percent/2 of the interval. Pure functions over a caller's
// random generator; one thread.
#pragma once

#include <cstdint>
#include <random>

namespace sluice::health {

using Rng = std::mt19937_64;

inline constexpr uint64_t kMsNs = 1'000'000;

uint64_t first_due_ns(uint64_t now_ns, uint32_t interval_ms, Rng& rng);

// If the loop fell behind by more than an interval, the next probe is due
// now rather than a burst of catch-up probes.
uint64_t next_due_ns(uint64_t prev_due_ns, uint64_t now_ns, uint32_t interval_ms,
                     uint32_t jitter_percent, Rng& rng);

}  // namespace sluice::health
