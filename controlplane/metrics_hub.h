// What the metrics exporter may read, handed over from the control plane's
// event loop (DESIGN.md section 9). The controller is single-threaded and a
// scrape runs on prometheus-cpp's own threads, so the loop publishes
// immutable snapshots here (the dataplane's segment mapping, the desired
// configuration with its VIP keys, a few control-plane figures) and a
// scrape takes them under a mutex held only for a few pointer copies: a
// scrape never waits for the loop, and the loop never waits for a scrape.
//
// publish_*: the event loop's thread. snapshot(): any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/control_segment.h"
#include "common/table_config.h"

namespace sluice::cp {

// The desired configuration as the metrics label it: VIPs by key, backends
// by name. Ids index the dataplane's per-VIP and per-backend counters.
struct ConfigSnapshot {
  uint64_t version = 0;  // the controller's state version it was taken at
  TableConfig config;
  std::vector<std::string> vip_keys;  // "192.0.2.10:80/tcp", one per config.vips entry
};

// Control-plane figures the event loop owns; copied whole on publish.
struct ControlFigures {
  bool in_sync = false;
  uint64_t desired_digest = 0;
  uint64_t queued_changes = 0;
  bool push_in_flight = false;
  uint64_t transactions_pushed = 0;
  uint64_t changes_pushed = 0;
  std::string audit_path;  // empty: no audit log
  uint64_t audit_lines = 0;
  uint64_t audit_write_errors = 0;
  uint64_t audit_reopens = 0;
  uint64_t audit_rotations = 0;
  uint64_t api_connections = 0;
};

// A checked backend's health verdict (health_monitor.h), by backend id.
struct BackendHealthFigure {
  const char* health;  // "unknown", "healthy" or "unhealthy" (static strings)
  bool removed;        // health takes it out of the Maglev turns
};
using HealthFigures = std::unordered_map<uint32_t, BackendHealthFigure>;

struct MetricsSnapshot {
  // Null while no dataplane segment is mapped. Shared: a detach while a
  // scrape reads it unmaps only after the scrape.
  std::shared_ptr<const ControlSegment> segment;
  bool dataplane_alive = false;
  std::shared_ptr<const ConfigSnapshot> config;
  ControlFigures figures;
  std::shared_ptr<const HealthFigures> health;  // null: no health checking
};

class MetricsHub {
 public:
  void publish_segment(std::shared_ptr<const ControlSegment> segment, bool alive) {
    std::lock_guard lock(mu_);
    snap_.segment = std::move(segment);
    snap_.dataplane_alive = alive;
  }
  void publish_config(std::shared_ptr<const ConfigSnapshot> config) {
    std::lock_guard lock(mu_);
    snap_.config = std::move(config);
  }
  void publish_figures(const ControlFigures& figures) {
    std::lock_guard lock(mu_);
    snap_.figures = figures;
  }
  void publish_health(std::shared_ptr<const HealthFigures> health) {
    std::lock_guard lock(mu_);
    snap_.health = std::move(health);
  }
  MetricsSnapshot snapshot() const {
    std::lock_guard lock(mu_);
    return snap_;
  }

 private:
  mutable std::mutex mu_;
  MetricsSnapshot snap_;
};

}  // namespace sluice::cp
