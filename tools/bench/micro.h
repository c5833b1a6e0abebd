// One-off figures: Maglev table build time (maglev_build, M=65537 with
// 1,000 backends and M=655373 with 10,000), connection-table memory per
// entry and per lcore, and the latency of TablePublisher::apply for a
// 1-VIP/100-backend change ("apply (in-process, no ring yet)": the
// control-channel ring and its acknowledgement are not part of it).
// Main lcore.
#pragma once

#include "tools/bench/run_context.h"

namespace sluice::bench {

void run_micro(RunContext& rc);

}  // namespace sluice::bench
