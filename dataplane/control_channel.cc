#include "dataplane/control_channel.h"

#include <chrono>
#include <cstdio>
#include <cstring>

#include "dataplane/channel_test_hook.h"

namespace sluice::dp {

ControlChannel::ControlChannel(ControlSegment& segment, TablePublisher& tables)
    : segment_(segment), tables_(tables) {
  SegmentHeader& h = segment_.header();
  h.applied_generation.store(tables_.generation(), std::memory_order_release);
  h.applied_digest.store(tables_.builder().digest(), std::memory_order_release);
  h.table_memory_used.store(tables_.builder().memory_bytes(), std::memory_order_relaxed);
  h.table_memory_budget.store(tables_.limits().table_memory_budget, std::memory_order_release);
  // What is applied already (--static-config) goes into the mirror whole.
  const TableConfig applied = tables_.builder().applied_config();
  std::vector<std::pair<const VipConfig*, const VipConfig*>> all;
  for (const VipConfig& vip : applied.vips) all.emplace_back(nullptr, &vip);
  segment_.write_applied(all);
  builder_ = std::thread([this] { builder_main(); });
}

ControlChannel::~ControlChannel() {
  cancel_.store(true, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  wake_.notify_one();
  builder_.join();
}

void ControlChannel::builder_main() {
  SegmentHeader& h = segment_.header();
  const BuildProgress progress{&h.build_done_vips, &h.build_total_vips, &cancel_};
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return quit_ || job_.has_value(); });
      if (quit_) return;
      job = std::move(*job_);
      job_.reset();
    }
    Done done;
    done.txn_id = job.txn_id;
    const uint64_t start = monotonic_ns();
    try {
      done.result = tables_.builder().build(job.delta, job.generation, progress);
    } catch (const std::exception& e) {
      // build() refuses what it can name; anything else is refused here.
      done.result = TableBuilder::Result{};
      done.result.error = std::string("internal error while building: ") + e.what();
    }
    done.build_ns = monotonic_ns() - start;
    if (done.result.snapshot) {
      // The mirror follows the build; the digest in the header follows the
      // publication (a reader checks one against the other). The build is
      // committed: a mirror that cannot be written is reported, not undone.
      try {
        std::vector<std::pair<const VipConfig*, const VipConfig*>> changed;
        changed.reserve(done.result.changed.size());
        for (const auto& [before, after] : done.result.changed) {
          changed.emplace_back(before ? &before->config : nullptr,
                               after ? &after->config : nullptr);
        }
        segment_.write_applied(changed);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "lb-dataplane: cannot update the applied-configuration mirror: %s\n",
                     e.what());
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    done_ = std::move(done);
  }
}

void ControlChannel::start_job(Job job) {
  SegmentHeader& h = segment_.header();
  h.build_txn_id.store(job.txn_id, std::memory_order_relaxed);
  h.build_generation.store(job.generation, std::memory_order_relaxed);
  h.build_started_ns.store(monotonic_ns(), std::memory_order_relaxed);
  h.build_done_vips.store(0, std::memory_order_relaxed);
  // Release: a reader that sees a non-zero total sees the fields above.
  h.build_total_vips.store(static_cast<uint32_t>(job.delta.vip_upserts.size() +
                                                 job.delta.backend_upserts.size() +
                                                 job.delta.backend_deletes.size()),
                           std::memory_order_release);
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = std::move(job);
  }
  job_in_flight_ = true;
  wake_.notify_one();
}

bool ControlChannel::finish_job() {
  std::optional<Done> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!done_) return false;
    done.swap(done_);
  }
  job_in_flight_ = false;
  SegmentHeader& h = segment_.header();
  ApplyResult r;
  r.build_ns = done->build_ns;
  r.rebuilt_vips = done->result.rebuilt_vips;
  if (done->result.snapshot) {
    tables_.publish(std::move(done->result.snapshot));
    r.ok = true;
    r.generation = tables_.generation();
    h.applied_digest.store(tables_.builder().digest(), std::memory_order_release);
    h.table_memory_used.store(tables_.builder().memory_bytes(), std::memory_order_relaxed);
    h.applied_generation.store(r.generation, std::memory_order_release);
  } else {
    r.generation = tables_.generation();
    r.error = std::move(done->result.error);
    h.refused_transactions.fetch_add(1, std::memory_order_relaxed);
    std::fprintf(stderr, "lb-dataplane: refused transaction %lu: %s\n",
                 static_cast<unsigned long>(done->txn_id), r.error.c_str());
  }
  h.build_total_vips.store(0, std::memory_order_release);
  acknowledge(done->txn_id, r);
  if (waiting_) {
    Job next = std::move(*waiting_);
    waiting_.reset();
    next.generation = tables_.generation() + 1;
    start_job(std::move(next));
  }
  return true;
}

void ControlChannel::refuse(uint64_t txn_id, const std::string& error) {
  ApplyResult r;
  r.generation = tables_.generation();
  r.error = error;
  segment_.header().refused_transactions.fetch_add(1, std::memory_order_relaxed);
  std::fprintf(stderr, "lb-dataplane: refused transaction %lu: %s\n",
               static_cast<unsigned long>(txn_id), error.c_str());
  acknowledge(txn_id, r);
}

bool ControlChannel::poll(uint32_t max_records) {
  segment_.header().heartbeat_ns.store(monotonic_ns(), std::memory_order_release);
  bool worked = flush_events();
  try {
    worked = finish_job() || worked;
    Record record;
    // A committed transaction waiting for the builder holds the ring.
    for (uint32_t i = 0; i < max_records && !waiting_ && segment_.commands().pop(record.data());
         ++i) {
      worked = true;
      switch (assembler_.feed(record)) {
        case TransactionAssembler::Result::kPending:
          break;
        case TransactionAssembler::Result::kCommitted: {
          channel_test_hook_on_commit();  // --test-channel-exception: may throw
          Job job{assembler_.txn_id(), tables_.generation() + 1, assembler_.take()};
          if (job_in_flight_) {
            waiting_ = std::move(job);
          } else {
            start_job(std::move(job));
          }
          break;
        }
        case TransactionAssembler::Result::kError:
          refuse(assembler_.txn_id(), "malformed transaction: " + assembler_.error());
          break;
      }
    }
  } catch (const std::exception& e) {
    // An allocation failure while assembling, for example: that
    // transaction is refused, the tables stay, the dataplane goes on.
    refuse(assembler_.txn_id(), std::string("internal error: ") + e.what());
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
