// The dataplane's end of the control channel (DESIGN.md section 4): drains
// the command ring, assembles transactions (nothing is applied before
// commit), hands each committed delta to a builder thread, publishes what
// it built through TablePublisher and acknowledges on the event ring with
// the applied generation or the precise error.
//
// Liveness never waits for a build: the builder is an ordinary thread (not
// an EAL lcore) and poll() only checks on it, so the heartbeat keeps
// beating during the longest build, and the segment shows the build's
// progress (build_* fields) so the control plane tells busy from dead. One
// build at a time; while it runs, the next committed transaction waits
// here and the ring is not read further (the control plane waits or
// retries, never drops). Any exception in the channel refuses the
// transaction it belongs to (counted in refused_transactions), and the
// dataplane carries on with its tables. poll() runs on the main lcore only.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "common/control_segment.h"
#include "dataplane/table_publisher.h"

namespace sluice::dp {

class ControlChannel {
 public:
  ControlChannel(ControlSegment& segment, TablePublisher& tables);
  ~ControlChannel();
  ControlChannel(const ControlChannel&) = delete;
  ControlChannel& operator=(const ControlChannel&) = delete;

  // One pass: heartbeat, a finished build published and acknowledged, up to
  // `max_records` commands read, pending acks flushed. Returns true if it
  // did any work (the caller sleeps when it did none).
  bool poll(uint32_t max_records = 4096);

 private:
  struct Job {
    uint64_t txn_id = 0;
    uint64_t generation = 0;
    TableDelta delta;
  };
  struct Done {
    uint64_t txn_id = 0;
    TableBuilder::Result result;
    uint64_t build_ns = 0;
  };

  void builder_main();
  void start_job(Job job);
  bool finish_job();
  void refuse(uint64_t txn_id, const std::string& error);
  void acknowledge(uint64_t txn_id, const ApplyResult& result);
  bool flush_events();

  ControlSegment& segment_;
  TablePublisher& tables_;
  TransactionAssembler assembler_;
  // Acks the event ring had no room for yet: they wait here, never dropped.
  std::deque<Record> pending_events_;

  // Main lcore <-> builder thread. The mutex guards job_ and done_ only.
  std::mutex mu_;
  std::condition_variable wake_;
  std::optional<Job> job_;
  std::optional<Done> done_;
  bool quit_ = false;
  std::atomic<bool> cancel_{false};  // ends a running build early on stop
  bool job_in_flight_ = false;    // main lcore's view: handed over, not yet acknowledged
  std::optional<Job> waiting_;    // committed while a build was running
  std::thread builder_;
};

}  // namespace sluice::dp
