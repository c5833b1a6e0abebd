// Slow start (DESIGN.md section 3): a backend that joins a VIP or returns
// to service (an operator enables it, health takes it back) ramps its
// share of new flows linearly from 10% to 100% of its weight over the
// VIP's slow_start seconds, so a cold cache or a fresh JIT is not handed a
// full share at once. The ramp is pushed as weights, in ten levels (10%,
// 20%, ... 100%, the first with the change that brought the backend back):
// at most ten table changes per ramp. The desired state keeps the
// operator's weight; only what goes to the dataplane carries the ramp.
//
// Weights are relative (Maglev and the schedulers only use their ratios),
// so a VIP with a ramping backend gets every weight times ten and the
// ramping one times its level; Maglev's table is the same for weights
// scaled alike, so the scaling itself moves no flow. (Weights too large to
// scale are ramped in their own units.)
//
// A VIP's backends that arrive with the VIP, or that the control plane
// finds at start, do not ramp: they start together. Ramps live in memory
// only: a control plane restarted mid-ramp pushes full weights (and one
// that adopts a dataplane's applied configuration mid-ramp adopts the ramp's
// scaled weights as its desired state). Not thread-safe: the control
// plane's loop.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <unordered_set>

#include "common/table_config.h"

namespace sluice::cp {

// The ramp level `elapsed_ns` into a ramp of `seconds`, in tenths of the
// weight: 1 at the start, one more every seconds/9, 10 from `seconds` on.
uint32_t slow_start_tenths(uint64_t elapsed_ns, uint32_t seconds);

class SlowStart {
 public:
  // Follows `effective` (the desired state with health's removals): a
  // backend now active with a weight that was not before, in a VIP known
  // before and with slow_start on, starts a ramp at `now_ns`. True when any
  // backend's level changed (the dataplane needs a push).
  bool update(const TableConfig& effective, uint64_t now_ns);
  // `effective` with the ramps in its weights: what goes to the dataplane.
  TableConfig apply(TableConfig effective) const;
  // A backend's level in tenths (10: no ramp).
  uint32_t tenths(uint32_t backend_id) const;
  // When a level changes next (0: nothing ramps).
  uint64_t next_change_ns() const;

 private:
  struct Ramp {
    uint64_t start_ns;
    uint32_t seconds;
    uint32_t tenths;
  };
  bool started_ = false;
  std::unordered_set<uint32_t> vips_;           // VIP ids seen
  std::unordered_set<uint32_t> serving_;        // backend ids in service at the last update
  std::unordered_map<uint32_t, Ramp> ramps_;    // by backend id
};

}  // namespace sluice::cp
