// Health checking inside lb-controlplane (DESIGN.md section 5): keeps the
// prober's targets equal to the desired configuration, turns its verdicts
// into the backends health takes out (per VIP, within the removal cap),
// audits every transition, and reads the dataplane's passive signals.
//
// Health is never administrative state: the desired state (and the state
// file) keeps what the operator set; what goes to the dataplane is
// effective(desired), where a backend that is administratively active and
// removed by health is disabled (no Maglev turns, its flows move). A
// draining or disabled backend stays so whatever its probes say, and keeps
// being probed. A backend without a verdict (unknown: at start, after a
// restart, after its check changed) keeps its traffic.
//
// Not thread-safe: the control plane's loop calls it (the probes run on
// the Runner's thread).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "common/table_config.h"
#include "health/runner.h"
#include "health/tunnel.h"

namespace sluice::cp {

class AuditLog;
class ControlObserver;
class DataplaneLink;

class HealthMonitor {
 public:
  // `tunnel_iface`: where the tunnel probes' tc program goes (empty: tunnel
  // checks cannot run; their backends stay unknown and say why).
  HealthMonitor(AuditLog& audit, std::string tunnel_iface);
  ~HealthMonitor();

  // Attaches the tunnel program; empty on success.
  std::string start();

  // Follows `config` when `version` differs from the last one seen, then
  // takes the prober's reports and the passive signals. True when the set
  // of backends health takes out changed (the dataplane needs a push).
  bool sync(const TableConfig& config, uint64_t version, uint64_t now_ns,
            const DataplaneLink& link);

  // `desired` with the backends health takes out disabled.
  TableConfig effective(const TableConfig& desired) const;

  // Backends of `vip` that are administratively active (with a weight) and
  // healthy or not yet probed: what BGP's min_healthy counts.
  uint32_t serving_backends(const VipConfig& vip) const;

  // The API's views: a backend's health fields, and a VIP's health summary.
  nlohmann::json backend_view(const BackendConfig& be) const;
  nlohmann::json vip_view(const VipConfig& vip) const;
  nlohmann::json status_view() const;

  // The metrics' observer of probes and transitions (null: none).
  void set_observer(ControlObserver* observer) { observer_ = observer; }
  // Moves whenever a verdict or the set of removed backends changes.
  uint64_t generation() const { return generation_; }
  // Each checked backend's verdict, and whether health takes it out: for the
  // metrics' per-backend series.
  struct BackendHealth {
    health::Health health;
    bool removed;
  };
  std::unordered_map<uint32_t, BackendHealth> backend_health() const;

 private:
  struct Entry {
    std::string vip_key;
    std::string name;
    HealthCheck check;
    health::ProbeTarget target;  // what the prober runs (when it can)
    bool runnable = false;
    health::Health health = health::Health::kUnknown;
    std::string since;         // UTC time of the last change of `health`
    uint64_t unhealthy_since_ns = 0;
    bool probed = false;       // a probe result exists
    bool last_ok = false;
    std::string last_result;   // the last probe's detail, or why none runs
    double last_latency_ms = 0;
    uint64_t passive_base = 0;  // syn_retries + non_syn_misses at the last look
    uint64_t passive_at_ns = 0;
    bool passive_seen = false;
  };
  struct VipState {
    uint32_t unhealthy = 0, allowed = 0, held = 0;
  };

  void reconcile(const TableConfig& config);
  void take_reports();
  void passive(uint64_t now_ns, const DataplaneLink& link);
  // Recomputes the removals; true when they changed.
  bool decide();

  AuditLog& audit_;
  std::string tunnel_iface_;
  health::TunnelEncap tunnel_;
  std::unique_ptr<health::Runner> runner_;
  uint64_t version_ = UINT64_MAX;
  TableConfig last_config_;              // backend order and admin state for decide()
  std::unordered_map<uint32_t, Entry> entries_;  // by backend id
  std::unordered_map<uint32_t, VipState> vips_;  // by VIP id
  std::unordered_set<uint32_t> removed_;         // backend ids health takes out
  std::unordered_set<uint32_t> tunnel_ids_;      // tunnel map entries we set
  uint64_t transitions_ = 0;
  uint64_t cap_holds_ = 0;       // times a VIP went past its cap (became degraded)
  uint64_t passive_probes_ = 0;  // immediate probes the passive signal asked for
  ControlObserver* observer_ = nullptr;
  uint64_t generation_ = 0;
};

}  // namespace sluice::cp
