// The exporter's custom prometheus-cpp Collectable (DESIGN.md section 9):
// at each scrape it reads the dataplane's per-lcore counter blocks, per-VIP
// and per-backend traffic counters, port statistics and header straight
// from the shared-memory segment and sums them, and labels them with the
// desired configuration the event loop published (metrics_hub.h). Nothing
// on the packet path knows about Prometheus; a scrape takes the hub's mutex
// only to copy three pointers, so it never blocks the dataplane or the
// control API.
//
// Every dataplane counter of the one list (common/counters.h) becomes a
// metric by one naming rule (metric_name_for_counter), and every port
// statistic of SLUICE_PORT_STATS (and the AF_XDP steering counters of
// SLUICE_XDP_STATS) likewise: a counter added to a list
// appears here without a change to this file.
//
// Collect() may run on several of the exposer's threads at once.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/counters.h"
#include "controlplane/metrics_hub.h"

namespace sluice::cp {

struct CollectorOptions {
  bool per_backend = true;  // false: no per-backend series (very large pools)
  std::string version;
  std::string commit;
};

// How a counter of the list is exported: the metric's name and, for drop
// reasons (drop_*) and ignored traffic (not_*), the "reason" label's value
// (empty otherwise). A counter counted
// in TSC cycles ("_cycles") is exported in seconds.
struct CounterMetricName {
  std::string name;
  std::string reason;
  bool cycles = false;
};
CounterMetricName metric_name_for_counter(const char* counter);

class MetricsCollector : public prometheus::Collectable {
 public:
  MetricsCollector(const MetricsHub& hub, CollectorOptions options);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  // Maglev slots held by each backend of a VIP, cached while its Maglev
  // inputs stay the same (building a 65537-slot table per scrape would be
  // wasteful).
  struct SlotCache {
    VipConfig vip;
    std::unordered_map<uint32_t, uint64_t> slots;  // backend id -> slots
  };
  const std::unordered_map<uint32_t, uint64_t>& maglev_slots(const VipConfig& vip) const;

  // The previous sample of each lcore's busy cycles, for the busy ratio
  // over the time between two scrapes.
  struct BusySample {
    uint64_t boot_id = 0;
    uint64_t at_ns = 0;
    std::vector<uint64_t> busy_cycles;
  };

  const MetricsHub& hub_;
  CollectorOptions options_;
  uint64_t start_unix_s_;
  mutable std::mutex mu_;  // the caches below
  mutable std::unordered_map<uint32_t, SlotCache> slot_cache_;
  mutable BusySample busy_;
};

}  // namespace sluice::cp
