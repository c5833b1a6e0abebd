// The performance targets, evaluated against the measured figures.
// Reported, never asserted: a missed target does not change the exit status.
// Main thread.
#pragma once

#include "tools/bench/results.h"

namespace sluice::bench {

void evaluate_targets(Results& results);

}  // namespace sluice::bench
