// The prober (DESIGN.md section 5): every target (one backend's check) on
// its own schedule with jitter, one probe in flight per target at most, its
// results folded into a rise/fall verdict. Runs on one thread in one event
// loop; thousands of targets cost a heap entry and, while probing, one
// socket each. A target of kind none is never probed. Single-threaded: the
// caller runs run_once() in a loop (health_runner.h does, on its thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <queue>
#include <unordered_map>
#include <vector>

#include "health/event_loop.h"
#include "health/http_probe.h"
#include "health/probe.h"
#include "health/schedule.h"
#include "health/verdict.h"

namespace sluice::health {

struct Target {
  uint64_t key = 0;  // the caller's name for it (the control plane: backend id)
  ProbeTarget probe;
};

// One probe's result and what it did to the verdict.
struct ProbeReport {
  uint64_t key = 0;
  ProbeOutcome outcome;
  uint64_t started_ns = 0;  // monotonic
  uint64_t due_ns = 0;      // when it was scheduled to start (0: on demand)
  Health before = Health::kUnknown;
  Health after = Health::kUnknown;
};

class Checker : ProbeSink {
 public:
  using OnReport = std::function<void(const ProbeReport&)>;

  Checker(EventLoop& loop, OnReport on_report, uint64_t seed = 0x5eed);
  ~Checker();

  // Makes the set of targets this one. A target whose probe is unchanged
  // (same kind, address, port, mark and kind-specific fields) keeps its
  // verdict and schedule (new timing takes effect from its next probe); a
  // new or changed one starts unknown, first probed within one interval.
  void set_targets(const std::vector<Target>& targets);
  // Probes `key` now unless a probe of it is in flight (a passive signal).
  void probe_now(uint64_t key);
  // Waits for the next due probe, deadline or socket event, but not past
  // `max_deadline_ns` (0: not at all), and handles what is ready.
  void run_once(uint64_t max_deadline_ns);

  size_t targets() const { return targets_.size(); }
  size_t in_flight() const { return in_flight_; }
  Health health(uint64_t key) const;

 private:
  struct State {
    Target target;
    Verdict verdict{1, 1};
    uint64_t due_ns = 0;
    uint64_t started_ns = 0;
    uint64_t started_due_ns = 0;
    uint64_t due_gen = 0;  // the live kDue timer's; older ones are stale
    uint64_t token = 0;    // of the probe in flight; 0 when none
    std::unique_ptr<Probe> probe;
    bool finished_early = false;  // reported from inside start_probe
  };
  enum class Event : uint8_t { kDue, kDeadline };
  struct Timer {
    uint64_t at_ns;
    uint64_t key;
    uint64_t token;  // kDue: the schedule's generation; kDeadline: the probe's
    Event event;
    bool operator>(const Timer& o) const { return at_ns > o.at_ns; }
  };

  void probe_done(uint64_t key, uint64_t token, ProbeOutcome outcome) override;
  void start(State& s, uint64_t now_ns, uint64_t due_ns);
  void schedule(State& s, uint64_t due_ns);
  void fire_timers(uint64_t now_ns);

  EventLoop& loop_;
  CurlDriver curl_;
  OnReport on_report_;
  Rng rng_;
  std::unordered_map<uint64_t, std::unique_ptr<State>> targets_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
  std::vector<std::unique_ptr<Probe>> finished_;  // freed after each dispatch pass
  uint64_t next_token_ = 1;
  size_t in_flight_ = 0;
};

// Whether two checks probe the same thing (a change to anything else keeps
// the verdict).
bool same_probe(const ProbeTarget& a, const ProbeTarget& b);

}  // namespace sluice::health
