#include "dataplane/flow_lookup.h"

#include "common/conn_state.h"

namespace sluice::dp {

void answer_flow_lookup_now(WorkerContext& ctx, FlowLookup& q, FlowLookupAnswer& a,
                            uint64_t request, uint64_t now_tsc) {
  const uint64_t hash = q.hash.load(std::memory_order_relaxed);
  const uint64_t fingerprint = q.fingerprint.load(std::memory_order_relaxed);
  // The control plane zeroes `request` before it rewrites the flow: if the
  // number is still ours, the flow read with it is whole.
  std::atomic_thread_fence(std::memory_order_acquire);
  if (q.request.load(std::memory_order_relaxed) != request) return;  // next pass
  const uint32_t now = ctx.ticks(now_tsc);
  const ConnEntry* e = ctx.conn().lookup(hash, fingerprint, now);
  const uint64_t per_s = ctx.ticks_per_second() == 0 ? 1 : ctx.ticks_per_second();
  auto to_ms = [per_s](uint64_t ticks) { return static_cast<uint32_t>(ticks * 1000 / per_s); };
  a.found = e != nullptr ? 1 : 0;
  a.state = e != nullptr ? static_cast<uint32_t>(e->state()) : 0;
  a.backend_id = e != nullptr ? e->backend_id() : 0;
  if (e != nullptr) {
    const uint32_t left = e->expires - now;
    const uint32_t timeout = ctx.conn().timeout(e->state());
    a.expires_in_ms = to_ms(left);
    a.idle_ms = to_ms(timeout > left ? timeout - left : 0);
  } else {
    a.expires_in_ms = a.idle_ms = 0;
  }
  a.request.store(request, std::memory_order_release);
}

}  // namespace sluice::dp
