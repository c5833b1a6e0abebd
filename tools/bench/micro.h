// One-off figures: Maglev table build time (maglev_build, M=65537 with
// 1,000 backends and M=655373 with 10,000), connection-table memory per
// entry and per lcore.
// Main lcore.
#pragma once

#include "tools/bench/run_context.h"

namespace sluice::bench {

void run_micro(RunContext& rc);

}  // namespace sluice::bench
