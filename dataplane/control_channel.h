// The dataplane's end of the control channel (DESIGN.md section 4): drains
// the command ring, assembles transactions, applies each commit through
// TablePublisher::apply (nothing before commit), and acknowledges on the
// event ring with the applied generation or the precise error. Also beats
// the heartbeat. Main lcore only.
#pragma once

#include <cstdint>
#include <deque>

#include "common/control_segment.h"
#include "dataplane/table_publisher.h"

namespace sluice::dp {

class ControlChannel {
 public:
  ControlChannel(ControlSegment& segment, TablePublisher& tables);

  // One pass: heartbeat, up to `max_records` commands, pending acks.
  // Returns true if it did any work (the caller sleeps when it did none).
  bool poll(uint32_t max_records = 4096);

 private:
  void acknowledge(uint64_t txn_id, const ApplyResult& result);
  bool flush_events();

  ControlSegment& segment_;
  TablePublisher& tables_;
  TransactionAssembler assembler_;
  // Acks the event ring had no room for yet: they wait here, never dropped.
  std::deque<Record> pending_events_;
};

}  // namespace sluice::dp
