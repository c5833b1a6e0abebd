#include "controlplane/dataplane_link.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "controlplane/views.h"

namespace sluice::cp {

namespace {

std::string seconds(uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(ns) / 1e9);
  return buf;
}

}  // namespace

DataplaneLink::DataplaneLink(std::string instance, LinkTiming timing)
    : instance_(std::move(instance)), timing_(timing) {
  // Transaction ids start from the wall clock, so that acks a previous run of
  // the control plane left on the event ring never match ours.
  next_txn_id_ = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           std::chrono::system_clock::now().time_since_epoch())
                                           .count());
}

DataplaneLink::~DataplaneLink() {
  segment_.reset();
  if (lock_fd_ >= 0) close(lock_fd_);
}

void DataplaneLink::note(const std::string& message) {
  if (message == last_note_) return;
  last_note_ = message;
  std::fprintf(stderr, "lb-controlplane: %s\n", message.c_str());
}

bool DataplaneLink::try_attach(std::string& error) {
  auto seg = ControlSegment::attach(instance_, error);
  if (!seg) return false;
  // The command ring has one producer: refuse to feed a segment another
  // control plane feeds. The lock lives as long as the attachment.
  const int fd = shm_open(seg->name().c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    error = "dataplane segment " + seg->name() + " vanished while attaching";
    return false;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    error = "another lb-controlplane is attached to dataplane segment " + seg->name() +
            " (one control plane per dataplane instance)";
    close(fd);
    return false;
  }
  struct stat locked {
  }, current{};
  const std::string path = "/dev/shm" + seg->name();
  if (fstat(fd, &locked) != 0 || stat(path.c_str(), &current) != 0 ||
      locked.st_ino != current.st_ino || !seg->still_current()) {
    error = "dataplane segment " + seg->name() + " was replaced while attaching";
    close(fd);
    return false;
  }
  segment_ = std::move(seg);
  lock_fd_ = fd;
  boot_id_ = segment_->header().boot_id;
  ++epoch_;
  drain_events();
  const SegmentHeader& h = segment_->header();
  note("attached to lb-dataplane pid " + std::to_string(h.pid) + " (instance " + instance_ +
       ", boot id " + hex64(h.boot_id) + ", " + std::to_string(h.worker_lcores) +
       " workers, generation " +
       std::to_string(h.applied_generation.load(std::memory_order_acquire)) + ")");
  return true;
}

void DataplaneLink::detach(const std::string& why) {
  segment_.reset();
  if (lock_fd_ >= 0) close(lock_fd_);
  lock_fd_ = -1;
  last_error_ = why;
  note("detached from the dataplane: " + why);
}

void DataplaneLink::drain_events() {
  Record r;
  while (segment_->events().pop(r.data())) {
    if (from_record<MsgHeader>(r).type == MsgType::kAck) ++stale_acks_;
  }
}

void DataplaneLink::tick(uint64_t now_ns) {
  if (now_ns >= next_check_ns_) {
    next_check_ns_ = now_ns + timing_.retry_ns;
    if (segment_ && (!segment_->still_current() || segment_->header().boot_id != boot_id_)) {
      detach("the dataplane's segment was replaced or removed (restart or stop)");
    }
    if (!segment_) {
      std::string error;
      if (!try_attach(error)) {
        last_error_ = error;
        note("no dataplane: " + error + " (retrying every " +
             std::to_string(timing_.retry_ns / 1000000) + " ms)");
      }
    } else if (!alive(now_ns)) {
      note("dataplane not alive: " + reason(now_ns));
    } else {
      note("dataplane alive: pid " + std::to_string(segment_->header().pid) + ", boot id " +
           hex64(boot_id_));
    }
  }
  if (segment_ && !push_) drain_events();
}

uint64_t DataplaneLink::heartbeat_age_ns(uint64_t now_ns) const {
  if (!segment_) return UINT64_MAX;
  // Acquire: pairs with the dataplane's release store of each beat.
  const uint64_t beat = segment_->header().heartbeat_ns.load(std::memory_order_acquire);
  return beat >= now_ns ? 0 : now_ns - beat;
}

bool DataplaneLink::alive(uint64_t now_ns) const {
  return segment_ && heartbeat_age_ns(now_ns) < timing_.stale_after_ns;
}

std::string DataplaneLink::reason(uint64_t now_ns) const {
  if (!segment_) return last_error_.empty() ? "not attached yet" : last_error_;
  if (alive(now_ns)) return {};
  return "no heartbeat from lb-dataplane pid " + std::to_string(segment_->header().pid) + " for " +
         seconds(heartbeat_age_ns(now_ns));
}

DataplaneLink::Build DataplaneLink::build(uint64_t now_ns) const {
  Build b;
  if (!segment_) return b;
  const SegmentHeader& h = segment_->header();
  // Acquire: pairs with the dataplane's release store of the total, which
  // it makes after the generation and start time.
  b.total_vips = h.build_total_vips.load(std::memory_order_acquire);
  if (b.total_vips == 0) return b;
  b.active = true;
  b.generation = h.build_generation.load(std::memory_order_relaxed);
  b.done_vips = h.build_done_vips.load(std::memory_order_acquire);
  const uint64_t started = h.build_started_ns.load(std::memory_order_relaxed);
  b.elapsed_ns = now_ns > started ? now_ns - started : 0;
  return b;
}

uint64_t DataplaneLink::applied_digest() const {
  if (!segment_) return 0;
  return segment_->header().applied_digest.load(std::memory_order_acquire);
}

uint64_t DataplaneLink::start_push(const TableDelta& delta, uint64_t now_ns) {
  Push p;
  p.txn_id = next_txn_id_++;
  p.deadline_ns = now_ns + timing_.ack_timeout_ns;
  p.boot_id = boot_id_;
  p.records = encode_transaction(delta, p.txn_id);
  push_ = std::move(p);
  write_records();  // the ring usually takes the whole transaction at once
  return push_->txn_id;
}

void DataplaneLink::write_records() {
  Push& p = *push_;
  // A full ring means wait and retry, never drop (DESIGN.md section 4).
  while (p.written < p.records.size() &&
         segment_->commands().push(p.records[p.written].data(), kRecordSize)) {
    ++p.written;
  }
}

std::optional<PushResult> DataplaneLink::poll_push(uint64_t now_ns) {
  if (!push_) return std::nullopt;
  PushResult r;
  r.txn_id = push_->txn_id;
  auto finish = [&](PushResult::Kind kind, std::string error) {
    r.kind = kind;
    r.error = std::move(error);
    push_.reset();
    return r;
  };
  if (!segment_ || boot_id_ != push_->boot_id) {
    return finish(PushResult::Kind::kLost, "the dataplane restarted before acknowledging");
  }
  if (!alive(now_ns)) {
    return finish(PushResult::Kind::kLost,
                  "the dataplane stopped before acknowledging (" + reason(now_ns) + ")");
  }
  Push& p = *push_;
  write_records();
  Record rec;
  while (segment_->events().pop(rec.data())) {
    if (from_record<MsgHeader>(rec).type != MsgType::kAck) continue;
    const auto ack = from_record<AckMsg>(rec);
    if (ack.h.txn_id != p.txn_id) {
      ++stale_acks_;
      continue;
    }
    r.generation = ack.generation;
    r.apply_ns = ack.apply_ns;
    if (ack.ok != 0) return finish(PushResult::Kind::kAcked, {});
    const size_t len = std::min<size_t>(ack.error_len, kMaxErrorLen);
    return finish(PushResult::Kind::kRefused, std::string(ack.error, len));
  }
  // A build of ours that is still moving buys another ack timeout.
  const SegmentHeader& h = segment_->header();
  if (h.build_txn_id.load(std::memory_order_relaxed) == p.txn_id &&
      h.build_total_vips.load(std::memory_order_acquire) != 0) {
    const uint32_t done = h.build_done_vips.load(std::memory_order_acquire);
    if (done != p.build_done) {
      p.build_done = done;
      p.deadline_ns = now_ns + timing_.ack_timeout_ns;
    }
  }
  if (now_ns >= p.deadline_ns) {
    const std::string ms = std::to_string(timing_.ack_timeout_ns / 1000000) + " ms";
    if (p.written < p.records.size()) {
      return finish(PushResult::Kind::kTimedOut,
                    "the command ring stayed full for " + ms + " (" + std::to_string(p.written) +
                        " of " + std::to_string(p.records.size()) +
                        " records written): the dataplane is not reading it");
    }
    return finish(PushResult::Kind::kTimedOut, "no acknowledgement within " + ms);
  }
  return std::nullopt;
}

}  // namespace sluice::cp
