// Repetitions and timing: a figure is an untimed settling pass, then `reps`
// timed passes, each checked (verdicts.h); ns and cycles per packet come
// from the TSC (rte_rdtsc, rte_get_tsc_hz). Also the untimed populate pass
// that puts flows in the connection table through process_burst itself.
// Main lcore.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
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
  // Runs after every checked pass of `packets` packets, outside the timed
  // region: a scenario's own checks (throw VerdictError) and figures,
  // returned by name and summed over the timed passes into the figure's
  // verdicts.
  std::function<std::map<std::string, uint64_t>(uint64_t packets)> after_pass;
};

// Fills `fig` (timings, verdicts, measured_packets). Throws VerdictError.
void measure(Engine& engine, World& world, Traffic& t, const MeasureSpec& spec, Figure& fig);

// Sends one TCP ACK per flow, in order, through process_burst: each misses
// and is entered as established by the second chance (kMidFlowMiss), as a
// flow under way that the table lost would be; every one must be inserted.
// One pass, so no entry waits half-open (whose timeout is short) for its
// confirmation. Untimed.
void populate(Engine& engine, World& world, const std::vector<uint32_t>& flows);

}  // namespace sluice::bench
