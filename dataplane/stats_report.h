// Sums the workers' counter blocks (DESIGN.md section 9: per lcore, only
// going up, summed by the reader) into a JSON report. Any thread; reads the
// blocks relaxed, so a report taken while workers run is a consistent-enough
// snapshot of monotonic values, never a torn 64-bit value on 64-bit CPUs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dataplane/worker.h"

namespace sluice::dp {

std::string counters_json(const std::vector<std::unique_ptr<WorkerContext>>& workers,
                          const TableSnapshot& tables);

}  // namespace sluice::dp
