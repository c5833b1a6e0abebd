// What the controller tells the metrics as it works: every control-API
// answer (operation and outcome) and every push's end (outcome, the
// dataplane's own apply time, the whole push's time). An interface so the
// controller does not depend on prometheus-cpp; the implementation
// (control_metrics.h) only bumps thread-safe metric objects, so a call
// costs the event loop no waiting. Called on the event loop's thread.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::cp {

class ControlObserver {
 public:
  virtual ~ControlObserver() = default;
  // `op`: the operation's name, or "unknown" for a request without a
  // valid one. `outcome`: "ok" or the error code (docs/control-api.md).
  virtual void request_answered(const std::string& op, const std::string& outcome) = 0;
  // `outcome`: "acked", "refused", "timed_out" or "lost". `apply_ns`: the
  // dataplane's validate + build + publish time (acked and refused);
  // `push_ns`: from the push's start to its end, as the control plane saw.
  virtual void push_finished(const char* outcome, uint64_t apply_ns, uint64_t push_ns) = 0;
  // Health checking (health_monitor.h): every probe's result and latency,
  // and every verdict change (`to`: "healthy", "unhealthy" or "unknown").
  virtual void probe_reported(bool ok, uint64_t latency_ns) = 0;
  virtual void health_transition(const char* to) = 0;
};

}  // namespace sluice::cp
