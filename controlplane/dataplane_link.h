// The control plane's end of the control channel (DESIGN.md section 4):
// finds the dataplane's segment (retrying while there is none), watches its
// heartbeat, notices a restart (a new segment under the instance's name, a
// new boot id) and re-attaches, and carries table pushes: a delta (or the
// whole state) as one transaction on the command ring, then the
// acknowledgement with the same transaction id on the event ring.
//
// A push cut short (ring full until the deadline, or our death) is a begin
// without commit, which the dataplane discards. A push whose build is
// running does not time out while the dataplane reports progress on it:
// only a build that stops moving for the ack timeout does. Only one control plane may feed a segment (its
// command ring has a single producer): the link holds an exclusive flock on
// the segment while attached.
//
// Not thread-safe: the control plane's event loop drives it with tick() and
// poll_push().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/control_segment.h"

namespace sluice::cp {

struct LinkTiming {
  uint64_t ack_timeout_ns = 5'000'000'000;  // per push: ring writes and the ack
  uint64_t stale_after_ns = 2'000'000'000;  // heartbeat older than this: not alive
  uint64_t retry_ns = 200'000'000;          // attach attempts, restart checks
};

struct PushResult {
  enum class Kind {
    kAcked,     // applied: `generation` is in force
    kRefused,   // the dataplane validated and refused; its tables are as before
    kTimedOut,  // no ack in time; the dataplane may still apply it later
    kLost,      // the dataplane went away (restart, stale heartbeat) mid-push
  };
  Kind kind = Kind::kLost;
  uint64_t txn_id = 0;
  uint64_t generation = 0;
  uint64_t apply_ns = 0;  // the dataplane's own validate + build + publish time
  std::string error;
};

class DataplaneLink {
 public:
  DataplaneLink(std::string instance, LinkTiming timing);
  ~DataplaneLink();
  DataplaneLink(const DataplaneLink&) = delete;
  DataplaneLink& operator=(const DataplaneLink&) = delete;

  // Attach attempts, liveness and restart checks (each at most once per
  // retry interval). Cheap; call every loop.
  void tick(uint64_t now_ns);
  // The same checks now, whatever the interval: before a push or a status
  // answer, so neither goes by a dataplane that has just been replaced.
  void refresh(uint64_t now_ns) {
    next_check_ns_ = 0;
    tick(now_ns);
  }

  // A segment is mapped (its heartbeat may be stale).
  bool attached() const { return segment_ != nullptr; }
  // Mapped, and the heartbeat is fresh: pushes are possible.
  bool alive(uint64_t now_ns) const;
  // Why not alive, for status and logs.
  std::string reason(uint64_t now_ns) const;
  // +1 on every (re)attach.
  uint64_t epoch() const { return epoch_; }
  uint64_t boot_id() const { return boot_id_; }
  ControlSegment* segment() { return segment_.get(); }
  // The mapping shared: the metrics exporter reads counters from it on its
  // own thread, and a detach must not unmap what a scrape still reads.
  std::shared_ptr<const ControlSegment> shared_segment() const { return segment_; }
  const ControlSegment* segment() const { return segment_.get(); }
  const std::string& instance() const { return instance_; }
  uint64_t heartbeat_age_ns(uint64_t now_ns) const;

  // Starts a push of `delta` (whose result must have passed the gate);
  // requires alive() and no push in flight. Returns its transaction id.
  uint64_t start_push(const TableDelta& delta, uint64_t now_ns);

  // The dataplane's build in progress, as its segment shows it.
  struct Build {
    bool active = false;
    uint64_t generation = 0;
    uint32_t done_vips = 0;
    uint32_t total_vips = 0;
    uint64_t elapsed_ns = 0;
  };
  Build build(uint64_t now_ns) const;
  // config_digest() of what the dataplane applied; 0 when not attached.
  uint64_t applied_digest() const;
  bool push_in_flight() const { return push_.has_value(); }
  // Writes what the ring takes, reads acks; the result once the push ends.
  std::optional<PushResult> poll_push(uint64_t now_ns);

  // Acks that did not belong to the push in flight (late or stale ones).
  uint64_t stale_acks() const { return stale_acks_; }

 private:
  struct Push {
    uint64_t txn_id;
    uint64_t deadline_ns;
    uint64_t boot_id;
    uint32_t build_done = UINT32_MAX;  // the build progress last seen
    std::vector<Record> records;
    size_t written = 0;
  };

  bool try_attach(std::string& error);
  void detach(const std::string& why);
  void drain_events();
  void write_records();
  void note(const std::string& message);

  std::string instance_;
  LinkTiming timing_;
  std::shared_ptr<ControlSegment> segment_;
  int lock_fd_ = -1;
  uint64_t boot_id_ = 0;
  uint64_t epoch_ = 0;
  uint64_t next_check_ns_ = 0;
  std::string last_error_;
  std::string last_note_;
  uint64_t next_txn_id_;
  std::optional<Push> push_;
  uint64_t stale_acks_ = 0;
};

}  // namespace sluice::cp
