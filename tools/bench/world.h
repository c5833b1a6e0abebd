// One load balancer as a worker lcore sees it: tables installed through
// TablePublisher::apply (the path the control channel will take), and the
// WorkerContext whose connection table and counters process_burst uses.
// Built off the timed region; main lcore only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/table_config.h"
#include "dataplane/table_publisher.h"
#include "dataplane/worker.h"
#include "tools/bench/addresses.h"

namespace sluice::bench {

struct WorldSpec {
  uint8_t family = 4;          // of clients and VIPs
  Encap encap = Encap::kIpip;
  uint8_t backend_family = 0;  // 0: the clients' family
  uint32_t vips = 1;
  uint32_t backends_per_vip = 100;
  uint32_t table_size = kMaglevDefaultTableSize;
  uint64_t flows_per_lcore = uint64_t{1} << 20;  // lb-dataplane's default
  uint32_t max_vips = 4096;
  uint32_t max_backend_id = 65535;
  uint64_t hash_seed = 0;
  // The first `draining_backends` backends of every VIP drain: the VIP then
  // has a separate existing-flows table (the second chance).
  uint32_t draining_backends = 0;
  // ForwardingConfig::max_inserts_per_s. 0 (no cap) unless a figure is
  // about the flood guard: lb-bench inserts millions of flows a second, far
  // past lb-dataplane's default of 125,000, and a cap would hide the paths
  // measured behind conn_insert_capped.
  uint32_t max_inserts_per_s = 0;
  // Every VIP's scheduler (new-flow-schedulers).
  Scheduler scheduler = Scheduler::kMaglev;
};

class World {
 public:
  // Throws std::runtime_error if the tables are refused or memory is short.
  explicit World(const WorldSpec& spec);

  const WorldSpec& spec() const { return spec_; }
  uint8_t backend_family() const { return spec_.backend_family; }
  dp::WorkerContext& ctx() { return *ctx_; }
  const dp::WorkerContext& ctx() const { return *ctx_; }
  const dp::TablePublisher& tables() const { return *tables_; }
  const Endpoint& vip_of(uint32_t flow) const { return vips_[flow % vips_.size()]; }
  uint64_t conn_capacity() const { return ctx_->conn().capacity(); }
  uint64_t conn_buckets() const { return conn_capacity() / dp::kConnEntriesPerBucket; }
  uint64_t apply_ns() const { return apply_ns_; }

 private:
  WorldSpec spec_;
  std::vector<Endpoint> vips_;
  std::unique_ptr<dp::TablePublisher> tables_;
  std::unique_ptr<dp::WorkerContext> ctx_;
  uint64_t apply_ns_ = 0;
};

// The configuration World installs (also used by the apply-latency figure).
TableConfig make_table_config(const WorldSpec& spec);
TableLimits make_limits(const WorldSpec& spec);
dp::ForwardingConfig make_forwarding_config(const WorldSpec& spec);

}  // namespace sluice::bench
