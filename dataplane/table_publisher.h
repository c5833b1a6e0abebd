// Publishes TableSnapshots to workers and reclaims old ones after an RCU
// grace period (DESIGN.md section 4, DPDK rte_rcu_qsbr).
//
// Threads: apply() and reclaim() run on the main lcore only (one writer).
// Workers call current() at the start of a burst and report_quiescent() once
// per loop; between the two they may use the snapshot freely.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <rte_rcu_qsbr.h>

#include "common/table_config.h"
#include "dataplane/tables.h"

namespace sluice::dp {

struct ApplyResult {
  bool ok = false;
  uint64_t generation = 0;  // the generation now published (the old one on failure)
  std::string error;        // names the offending field when !ok
  uint64_t build_ns = 0;    // validation, Maglev and table build time
};

class TablePublisher {
 public:
  // `max_readers` worker threads may register (ids 0..max_readers-1).
  TablePublisher(const TableLimits& limits, uint32_t max_readers);
  ~TablePublisher();
  TablePublisher(const TablePublisher&) = delete;
  TablePublisher& operator=(const TablePublisher&) = delete;

  // The one way tables get installed: the control channel calls it on
  // commit, --static-config calls it at start. Validates and builds the whole
  // config, then publishes it with one release store; on any error nothing
  // changes. Never blocks on workers: the old snapshot is queued for reclaim.
  ApplyResult apply(const TableConfig& config);

  // Frees retired snapshots whose grace period has ended. Main lcore.
  void reclaim();
  size_t pending_reclaims() const { return retired_.size(); }

  // Worker side.
  void register_reader(uint32_t reader_id);
  void unregister_reader(uint32_t reader_id);
  const TableSnapshot* current() const {
    // Pairs with the release store in apply(): a worker that sees the new
    // pointer also sees every byte of the snapshot built before it.
    return current_.load(std::memory_order_acquire);
  }
  void report_quiescent(uint32_t reader_id) { rte_rcu_qsbr_quiescent(qsbr_, reader_id); }

  uint64_t generation() const { return generation_; }
  const TableLimits& limits() const { return limits_; }

 private:
  struct Retired {
    uint64_t token;
    std::unique_ptr<TableSnapshot> snapshot;
  };

  TableLimits limits_;
  rte_rcu_qsbr* qsbr_ = nullptr;
  std::atomic<const TableSnapshot*> current_{nullptr};
  std::unique_ptr<TableSnapshot> owned_current_;
  std::deque<Retired> retired_;
  uint64_t generation_ = 0;
};

}  // namespace sluice::dp
