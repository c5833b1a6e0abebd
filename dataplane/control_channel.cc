#include "dataplane/control_channel.h"

#include <cstdio>
#include <cstring>

namespace sluice::dp {

ControlChannel::ControlChannel(ControlSegment& segment, TablePublisher& tables)
    : segment_(segment), tables_(tables) {
  segment_.header().applied_generation.store(tables_.generation(), std::memory_order_release);
}

bool ControlChannel::poll(uint32_t max_records) {
  segment_.header().heartbeat_ns.store(monotonic_ns(), std::memory_order_release);
  bool worked = flush_events();
  Record record;
  for (uint32_t i = 0; i < max_records && segment_.commands().pop(record.data()); ++i) {
    worked = true;
    switch (assembler_.feed(record)) {
      case TransactionAssembler::Result::kPending:
        break;
      case TransactionAssembler::Result::kCommitted: {
        const TableConfig config = assembler_.take();
        ApplyResult r = tables_.apply(config);
        if (r.ok) {
          segment_.header().applied_generation.store(r.generation, std::memory_order_release);
        } else {
          std::fprintf(stderr, "lb-dataplane: refused transaction %lu: %s\n",
                       static_cast<unsigned long>(assembler_.txn_id()), r.error.c_str());
        }
        acknowledge(assembler_.txn_id(), r);
        break;
      }
      case TransactionAssembler::Result::kError: {
        ApplyResult r;
        r.generation = tables_.generation();
        r.error = "malformed transaction: " + assembler_.error();
        std::fprintf(stderr, "lb-dataplane: %s\n", r.error.c_str());
        acknowledge(assembler_.txn_id(), r);
        break;
      }
    }
  }
  return flush_events() || worked;
}

void ControlChannel::acknowledge(uint64_t txn_id, const ApplyResult& result) {
  AckMsg ack{};
  ack.h = {MsgType::kAck, 0, txn_id};
  ack.generation = result.generation;
  ack.ok = result.ok ? 1 : 0;
  ack.apply_ns = result.build_ns;
  ack.error_len = static_cast<uint32_t>(std::min<size_t>(result.error.size(), kMaxErrorLen));
  std::memcpy(ack.error, result.error.data(), ack.error_len);
  pending_events_.push_back(to_record(ack));
  flush_events();
}

bool ControlChannel::flush_events() {
  bool pushed = false;
  while (!pending_events_.empty() &&
         segment_.events().push(pending_events_.front().data(), kRecordSize)) {
    pending_events_.pop_front();
    pushed = true;
  }
  return pushed;
}

}  // namespace sluice::dp
