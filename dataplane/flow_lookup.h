// A worker's answer to flow.explain's question (FlowLookup in
// common/control_segment.h): is this flow in my connection table, in which
// state, on which backend, idle for how long. Called by the worker loop once
// per pass, on the worker's own lcore, so the table stays single-owner.
#pragma once

#include <cstdint>

#include "common/control_segment.h"
#include "dataplane/worker.h"

namespace sluice::dp {

// The slow part: the question is new.
void answer_flow_lookup_now(WorkerContext& ctx, FlowLookup& q, FlowLookupAnswer& a,
                            uint64_t request, uint64_t now_tsc);

// Cheap while nothing is asked: one load and a compare.
inline void answer_flow_lookup(WorkerContext& ctx, FlowLookup& q, uint32_t slot,
                               uint64_t now_tsc) {
  if (slot >= kMaxFlowLookupWorkers) return;
  FlowLookupAnswer& a = q.answers[slot];
  const uint64_t request = q.request.load(std::memory_order_acquire);
  if (request == 0 || request == a.request.load(std::memory_order_relaxed)) [[likely]] return;
  answer_flow_lookup_now(ctx, q, a, request, now_tsc);
}

}  // namespace sluice::dp
