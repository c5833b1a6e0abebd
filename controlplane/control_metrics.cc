#include "controlplane/control_metrics.h"

namespace sluice::cp {

namespace {

// 100 us to ~100 s in steps of 4: a small delta applies in well under a
// millisecond, the largest tables take seconds (docs/performance.md).
prometheus::Histogram::BucketBoundaries latency_buckets() {
  prometheus::Histogram::BucketBoundaries b;
  for (double s = 0.0001; s < 120; s *= 4) b.push_back(s);
  return b;
}

}  // namespace

const std::vector<std::string>& ControlMetrics::outcomes() {
  static const std::vector<std::string> kOutcomes = {
      "ok", "usage", "invalid", "not_found", "dataplane", "pending", "internal", "unavailable"};
  return kOutcomes;
}

ControlMetrics::ControlMetrics(const std::vector<std::string>& ops)
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("sluice_api_requests_total")
                    .Help("Control API requests answered, by operation and outcome (ok or the "
                          "error code)")
                    .Register(*registry_)),
      pushes_(prometheus::BuildCounter()
                  .Name("sluice_table_pushes_total")
                  .Help("Transactions pushed to the dataplane, by outcome (acked, refused, "
                        "timed_out, lost)")
                  .Register(*registry_)) {
  std::vector<std::string> all_ops = ops;
  all_ops.push_back("unknown");
  for (const std::string& op : all_ops) {
    for (const std::string& outcome : outcomes()) {
      request_counters_[{op, outcome}] = &requests_.Add({{"op", op}, {"outcome", outcome}});
    }
  }
  for (const char* outcome : {"acked", "refused", "timed_out", "lost"}) {
    push_counters_[outcome] = &pushes_.Add({{"outcome", outcome}});
  }
  apply_seconds_ = &prometheus::BuildHistogram()
                        .Name("sluice_table_apply_duration_seconds")
                        .Help("Time the dataplane took to validate, build and publish a pushed "
                              "transaction (acknowledged or refused)")
                        .Register(*registry_)
                        .Add({}, latency_buckets());
  push_seconds_ = &prometheus::BuildHistogram()
                       .Name("sluice_table_push_duration_seconds")
                       .Help("Time from a push's start to its acknowledgement, as the control "
                             "plane saw it (ring writes, build, publish)")
                       .Register(*registry_)
                       .Add({}, latency_buckets());
  auto& probes = prometheus::BuildCounter()
                     .Name("sluice_health_probes_total")
                     .Help("Health probes finished, by outcome (ok or failed: refused, timed "
                           "out, wrong answer)")
                     .Register(*registry_);
  probes_ok_ = &probes.Add({{"outcome", "ok"}});
  probes_failed_ = &probes.Add({{"outcome", "failed"}});
  probe_seconds_ = &prometheus::BuildHistogram()
                        .Name("sluice_health_probe_duration_seconds")
                        .Help("Time a health probe took, passed or failed (a timeout counts "
                              "its timeout)")
                        .Register(*registry_)
                        .Add({}, latency_buckets());
  auto& transitions = prometheus::BuildCounter()
                          .Name("sluice_health_transitions_total")
                          .Help("Backends' health verdict changes, by the state entered")
                          .Register(*registry_);
  for (const char* to : {"healthy", "unhealthy", "unknown"}) {
    transitions_[to] = &transitions.Add({{"to", to}});
  }
}

void ControlMetrics::probe_reported(bool ok, uint64_t latency_ns) {
  (ok ? probes_ok_ : probes_failed_)->Increment();
  probe_seconds_->Observe(static_cast<double>(latency_ns) / 1e9);
}

void ControlMetrics::health_transition(const char* to) {
  const auto it = transitions_.find(to);
  if (it != transitions_.end()) it->second->Increment();
}

void ControlMetrics::request_answered(const std::string& op, const std::string& outcome) {
  auto it = request_counters_.find({op, outcome});
  if (it == request_counters_.end()) {
    // An operation added after start-up's list (never, today): its label
    // set is made now, under the family's own brief lock.
    it = request_counters_
             .emplace(std::make_pair(op, outcome), &requests_.Add({{"op", op}, {"outcome", outcome}}))
             .first;
  }
  it->second->Increment();
}

void ControlMetrics::push_finished(const char* outcome, uint64_t apply_ns, uint64_t push_ns) {
  const auto it = push_counters_.find(outcome);
  if (it != push_counters_.end()) it->second->Increment();
  const std::string o = outcome;
  if (o == "acked" || o == "refused") apply_seconds_->Observe(static_cast<double>(apply_ns) / 1e9);
  if (o == "acked") push_seconds_->Observe(static_cast<double>(push_ns) / 1e9);
}

}  // namespace sluice::cp
