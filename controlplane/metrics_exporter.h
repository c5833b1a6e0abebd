// lb-controlplane's Prometheus endpoint (DESIGN.md section 9): a
// prometheus-cpp pull exposer (its own HTTP threads) serving /metrics on
// --metrics-address, with the dataplane collector (metrics_collector.h)
// and the control plane's registry (control_metrics.h) behind it.
//
// The event loop calls publish() after each tick; it hands the hub new
// snapshots only when something moved (the configuration's version, the
// dataplane's mapping) and the small figures at most every 100 ms, so the
// loop pays a mutex and a few copies, never a wait on a scrape.
#pragma once

#include <prometheus/exposer.h>

#include <memory>
#include <string>
#include <vector>

#include "controlplane/audit_log.h"
#include "controlplane/control_metrics.h"
#include "controlplane/controller.h"
#include "controlplane/dataplane_link.h"
#include "controlplane/metrics_collector.h"
#include "controlplane/metrics_hub.h"

namespace sluice::cp {

struct ExporterOptions {
  std::string address;  // as parse_metrics_address accepted it
  bool per_backend = true;
};

class MetricsExporter {
 public:
  // Listens at once; nullptr and an error (the address, and why) when it
  // cannot (address in use, not a local address).
  static std::unique_ptr<MetricsExporter> start(const ExporterOptions& options,
                                                std::string& error);

  ControlMetrics& control_metrics() { return control_; }
  // The listening port (the one chosen when the address said port 0).
  int port() const;

  // Event loop thread, after each tick.
  void publish(const Controller& controller, const DataplaneLink& link, const AuditLog& audit,
               size_t api_connections, uint64_t now_ns);

 private:
  explicit MetricsExporter(const ExporterOptions& options);

  MetricsHub hub_;
  ControlMetrics control_;
  std::shared_ptr<MetricsCollector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  uint64_t published_version_ = UINT64_MAX;
  uint64_t published_epoch_ = UINT64_MAX;
  bool published_alive_ = false;
  bool published_attached_ = false;
  uint64_t next_figures_ns_ = 0;
  uint64_t published_health_ = UINT64_MAX;  // HealthMonitor::generation() published
};

}  // namespace sluice::cp
