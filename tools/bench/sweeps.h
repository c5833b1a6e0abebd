// Scaling sweeps, each for IPv4 and IPv6 clients with IPIP (GUE if only
// GUE is selected): established flows in the table (1k to 10M, random
// order), VIPs (1, 100, 10,000) and backends per VIP (10, 1,000, 10,000).
// The VIP and backend sweeps measure established traffic and new flows.
// Main lcore.
#pragma once

#include "tools/bench/run_context.h"

namespace sluice::bench {

void run_sweeps(RunContext& rc);

}  // namespace sluice::bench
