#include "controlplane/flow_entries.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace sluice::cp {

FlowEntries lookup_flow_entries(ControlSegment& segment, uint64_t hash, uint64_t fingerprint,
                                uint32_t timeout_ms) {
  SegmentHeader& h = segment.header();
  FlowLookup& q = h.flow_lookup;
  FlowEntries out;
  out.workers = std::min(h.worker_lcores, kMaxFlowLookupWorkers);
  // Numbers only grow, across control-plane restarts too: a worker ignores
  // a number it has answered already.
  static uint64_t last = 0;
  const uint64_t request = std::max(monotonic_ns(), last + 1);
  last = request;
  q.request.store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  q.hash.store(hash, std::memory_order_relaxed);
  q.fingerprint.store(fingerprint, std::memory_order_relaxed);
  q.request.store(request, std::memory_order_release);

  std::vector<bool> done(out.workers, false);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (out.answered < out.workers) {
    for (uint32_t w = 0; w < out.workers; ++w) {
      const FlowLookupAnswer& a = q.answers[w];
      if (done[w] || a.request.load(std::memory_order_acquire) != request) continue;
      done[w] = true;
      ++out.answered;
      if (a.found != 0) {
        out.found.push_back(WorkerEntry{w, a.state, a.backend_id, a.idle_ms, a.expires_in_ms});
      }
    }
    if (out.answered == out.workers || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return out;
}

}  // namespace sluice::cp
