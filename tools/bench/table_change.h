// lb-bench's "table-change" figures: a table change through the real
// command ring to its acknowledgement at 1, 100 and 4,096 VIPs.
#pragma once

#include "tools/bench/run_context.h"

namespace sluice::bench {

void run_table_change(RunContext& rc);

}  // namespace sluice::bench
