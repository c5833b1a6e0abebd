// The control plane's own metrics, kept in a prometheus-cpp Registry whose
// metric objects are thread-safe (atomic increments): the event loop bumps
// them through ControlObserver and a scrape reads them, neither waiting for
// the other. Every label set is created up front (operations x outcomes,
// push outcomes), so no family mutex is taken on the event loop at run
// time. Later subsystems (health probes, BGP) add their families to the
// same registry (registry()).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "controlplane/control_observer.h"

namespace sluice::cp {

class ControlMetrics : public ControlObserver {
 public:
  // `ops`: every operation name of the control API.
  explicit ControlMetrics(const std::vector<std::string>& ops);

  void request_answered(const std::string& op, const std::string& outcome) override;
  void push_finished(const char* outcome, uint64_t apply_ns, uint64_t push_ns) override;
  void probe_reported(bool ok, uint64_t latency_ns) override;
  void health_transition(const char* to) override;

  const std::shared_ptr<prometheus::Registry>& registry() const { return registry_; }

  // The error codes of docs/control-api.md, and "ok".
  static const std::vector<std::string>& outcomes();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& pushes_;
  prometheus::Histogram* apply_seconds_;
  prometheus::Histogram* push_seconds_;
  prometheus::Counter* probes_ok_;
  prometheus::Counter* probes_failed_;
  prometheus::Histogram* probe_seconds_;
  std::map<std::string, prometheus::Counter*> transitions_;
  std::map<std::pair<std::string, std::string>, prometheus::Counter*> request_counters_;
  std::map<std::string, prometheus::Counter*> push_counters_;
};

}  // namespace sluice::cp
