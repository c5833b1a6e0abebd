// Repetitions and timing: a figure is an untimed settling pass, then `reps`
// timed passes, each checked (verdicts.h); ns and cycles per packet come
// from the TSC (rte_rdtsc, rte_get_tsc_hz). Also the untimed populate pass
// that puts flows in the connection table through process_burst itself.
// Main lcore.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tools/bench/engine.h"
#include "tools/bench/results.h"

namespace sluice::bench {

struct MeasureSpec {
  uint64_t packets = 0;  // per repetition
  uint32_t reps = 5;
  Forwarder forwarder = Forwarder::kSluice;
  Io io = Io::kDirect;
  // Runs before every pass, outside the timed region (clear the table...).
  std::function<void()> before_pass;
};

// Fills `fig` (timings, verdicts, measured_packets). Throws VerdictError.
void measure(Engine& engine, World& world, Traffic& t, const MeasureSpec& spec, Figure& fig);

// Sends one TCP SYN per flow, in order, through process_burst; every one
// must be inserted. Untimed.
void populate(Engine& engine, World& world, const std::vector<uint32_t>& flows);

}  // namespace sluice::bench
