// flow.explain's look into the workers' connection tables: posts the flow
// to the segment's FlowLookup and collects each worker's answer
// (dataplane/flow_lookup.h). Waits at most `timeout_ms` (a worker that
// sleeps in its idle back-off answers when it wakes). One thread.
#pragma once

#include <cstdint>
#include <vector>

#include "common/control_segment.h"

namespace sluice::cp {

struct WorkerEntry {
  uint32_t worker = 0;  // the worker's index (its lcore counter block)
  uint32_t state = 0;   // ConnState
  uint32_t backend_id = 0;
  uint32_t idle_ms = 0;
  uint32_t expires_in_ms = 0;
};

struct FlowEntries {
  uint32_t workers = 0;   // worker lcores asked
  uint32_t answered = 0;  // of them, answered in time
  std::vector<WorkerEntry> found;
};

FlowEntries lookup_flow_entries(ControlSegment& segment, uint64_t hash, uint64_t fingerprint,
                                uint32_t timeout_ms);

}  // namespace sluice::cp
