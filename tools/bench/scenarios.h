// The scenarios of the benchmark issue, each for every selected (client
// family, encapsulation): floor, established-hot, established-1M, new-flow,
// new-flow-full, mixed, not-for-us, icmp-error, ring-loop; and the
// connection-table lifecycle's: second-chance (a flow under way missing
// the table, by the existing-flows table of a VIP whose backend drains)
// and flood (spoofed SYNs at 10x the table's capacity against established
// flows). Main lcore.
#pragma once

#include "tools/bench/run_context.h"

namespace sluice::bench {

// The variants --family and --encap select, in run order.
std::vector<Variant> selected_variants(const BenchOptions& opt);

void run_scenarios(RunContext& rc);

}  // namespace sluice::bench
