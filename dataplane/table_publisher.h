// Publishes TableSnapshots to workers and reclaims old ones after an RCU
// grace period (DESIGN.md section 4, DPDK rte_rcu_qsbr).
//
// Threads: publish(), apply() and reclaim() run on the main lcore only (one
// writer). builder() belongs to whichever thread builds (the control
// channel's builder thread, or the main lcore through apply()), one at a
// time. Workers call current() at the start of a burst and
// report_quiescent() once per loop; between the two they may use the
// snapshot freely.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include <rte_rcu_qsbr.h>

#include "common/table_config.h"
#include "common/table_delta.h"
#include "dataplane/table_builder.h"
#include "dataplane/tables.h"

namespace sluice::dp {

struct ApplyResult {
  bool ok = false;
  uint64_t generation = 0;  // the generation now published (the old one on failure)
  std::string error;        // names the offending field when !ok
  uint64_t build_ns = 0;    // validation, Maglev and table build time
  uint32_t rebuilt_vips = 0;  // Maglev tables built; the others were shared
};

class TablePublisher {
 public:
  // `max_readers` worker threads may register (ids 0..max_readers-1).
  TablePublisher(const TableLimits& limits, uint32_t max_readers);
  ~TablePublisher();
  TablePublisher(const TablePublisher&) = delete;
  TablePublisher& operator=(const TablePublisher&) = delete;

  // Builds `delta` on the calling thread (TableBuilder::build) and
  // publishes the result; on any error nothing changes. --static-config,
  // the tests and lb-bench install tables this way; the control channel
  // builds on its own thread and calls publish().
  ApplyResult apply(const TableDelta& delta);
  ApplyResult apply(const TableConfig& config) { return apply(full_delta(config)); }

  // Publishes a snapshot built for generation() + 1 with one release store.
  // Never blocks on workers: the old snapshot is queued for reclaim.
  void publish(std::unique_ptr<TableSnapshot> next);

  TableBuilder& builder() { return builder_; }

  // Frees retired snapshots whose grace period has ended. Main lcore.
  void reclaim();
  size_t pending_reclaims() const { return retired_.size(); }

  // Worker side. 0, or the negative errno of rte_rcu_qsbr_thread_register
  // / _unregister (an id out of range).
  int register_reader(uint32_t reader_id);
  int unregister_reader(uint32_t reader_id);
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
  TableBuilder builder_;
  rte_rcu_qsbr* qsbr_ = nullptr;
  std::atomic<const TableSnapshot*> current_{nullptr};
  std::unique_ptr<TableSnapshot> owned_current_;
  std::deque<Retired> retired_;
  uint64_t generation_ = 0;
};

}  // namespace sluice::dp
