#include "health/checker.h"

#include <algorithm>

namespace sluice::health {

bool same_probe(const ProbeTarget& a, const ProbeTarget& b) {
  const HealthCheck& x = a.check;
  const HealthCheck& y = b.check;
  return a.address == b.address && a.port == b.port && a.mark == b.mark && x.kind == y.kind &&
         x.method == y.method && x.path == y.path && x.host == y.host &&
         x.expect_status == y.expect_status && x.expect_body == y.expect_body &&
         x.payload == y.payload && x.expect == y.expect && x.tunnel == y.tunnel &&
         x.gue_port == y.gue_port;
}

Checker::Checker(EventLoop& loop, OnReport on_report, uint64_t seed)
    : loop_(loop), curl_(loop), on_report_(std::move(on_report)), rng_(seed) {}

Checker::~Checker() {
  // Probes before the curl driver they may belong to.
  for (auto& [key, s] : targets_) s->probe.reset();
  finished_.clear();
}

Health Checker::health(uint64_t key) const {
  const auto it = targets_.find(key);
  return it == targets_.end() ? Health::kUnknown : it->second->verdict.state();
}

void Checker::set_targets(const std::vector<Target>& targets) {
  const uint64_t now = monotonic_ns();
  std::unordered_map<uint64_t, std::unique_ptr<State>> next;
  next.reserve(targets.size());
  for (const Target& t : targets) {
    const HealthCheck& c = t.probe.check;
    auto it = targets_.find(t.key);
    if (it != targets_.end() && same_probe(it->second->target.probe, t.probe)) {
      std::unique_ptr<State> s = std::move(it->second);
      targets_.erase(it);
      const uint32_t old_interval = s->target.probe.check.interval_ms;
      s->target = t;
      s->verdict.set_thresholds(c.rise, c.fall);
      // A shorter interval must not wait out the old, longer one.
      if (c.interval_ms < old_interval && c.kind != HealthKind::kNone) {
        schedule(*s, first_due_ns(now, c.interval_ms, rng_));
      }
      next.emplace(t.key, std::move(s));
      continue;
    }
    auto s = std::make_unique<State>();
    s->target = t;
    s->verdict = Verdict(c.rise, c.fall);
    if (it != targets_.end()) {
      // Changed: its probe in flight (if any) reports to nobody.
      if (it->second->probe) finished_.push_back(std::move(it->second->probe));
      if (it->second->token != 0) --in_flight_;
      s->due_gen = it->second->due_gen + 1;
      targets_.erase(it);
    }
    if (c.kind != HealthKind::kNone) schedule(*s, first_due_ns(now, c.interval_ms, rng_));
    next.emplace(t.key, std::move(s));
  }
  for (auto& [key, s] : targets_) {  // removed targets
    if (s->probe) finished_.push_back(std::move(s->probe));
    if (s->token != 0) --in_flight_;
  }
  targets_ = std::move(next);
}

void Checker::schedule(State& s, uint64_t due_ns) {
  s.due_ns = due_ns;
  ++s.due_gen;
  timers_.push(Timer{due_ns, s.target.key, s.due_gen, Event::kDue});
}

void Checker::probe_now(uint64_t key) {
  const auto it = targets_.find(key);
  if (it == targets_.end()) return;
  State& s = *it->second;
  if (s.token != 0 || s.target.probe.check.kind == HealthKind::kNone) return;
  start(s, monotonic_ns(), 0);
}

void Checker::start(State& s, uint64_t now_ns, uint64_t due_ns) {
  s.token = next_token_++;
  s.started_ns = now_ns;
  s.started_due_ns = due_ns;
  s.finished_early = false;
  ++in_flight_;
  const uint64_t token = s.token;
  timers_.push(Timer{now_ns + uint64_t{s.target.probe.check.timeout_ms} * kMsNs, s.target.key,
                     token, Event::kDeadline});
  std::unique_ptr<Probe> p =
      start_probe(loop_, curl_, *this, s.target.key, token, s.target.probe, now_ns);
  if (s.finished_early || s.token != token) {
    if (p) finished_.push_back(std::move(p));
  } else {
    s.probe = std::move(p);
  }
}

void Checker::probe_done(uint64_t key, uint64_t token, ProbeOutcome outcome) {
  const auto it = targets_.find(key);
  if (it == targets_.end() || it->second->token != token) return;  // a stale probe
  State& s = *it->second;
  s.token = 0;
  --in_flight_;
  if (s.probe) {
    finished_.push_back(std::move(s.probe));
  } else {
    s.finished_early = true;
  }
  ProbeReport r;
  r.key = key;
  r.started_ns = s.started_ns;
  r.due_ns = s.started_due_ns;
  r.before = s.verdict.state();
  s.verdict.record(outcome.ok);
  r.after = s.verdict.state();
  r.outcome = std::move(outcome);
  if (on_report_) on_report_(r);
}

void Checker::fire_timers(uint64_t now_ns) {
  while (!timers_.empty() && timers_.top().at_ns <= now_ns) {
    const Timer t = timers_.top();
    timers_.pop();
    const auto it = targets_.find(t.key);
    if (it == targets_.end()) continue;
    State& s = *it->second;
    if (t.event == Event::kDeadline) {
      if (s.token == t.token && s.probe) s.probe->expire();
      continue;
    }
    if (t.token != s.due_gen) continue;  // rescheduled since
    const HealthCheck& c = s.target.probe.check;
    if (c.kind == HealthKind::kNone) continue;
    schedule(s, next_due_ns(t.at_ns, now_ns, c.interval_ms, c.jitter_percent, rng_));
    // timeout <= interval, so a probe still in flight here is one started
    // on demand (probe_now): this turn is skipped, the schedule stays.
    if (s.token == 0) start(s, now_ns, t.at_ns);
  }
}

void Checker::run_once(uint64_t max_deadline_ns) {
  uint64_t deadline = max_deadline_ns;
  if (!timers_.empty() && (deadline == 0 || timers_.top().at_ns < deadline)) {
    deadline = timers_.top().at_ns;
  }
  const uint64_t curl_deadline = curl_.deadline_ns();
  if (curl_deadline != 0 && (deadline == 0 || curl_deadline < deadline)) deadline = curl_deadline;
  if (deadline == 0) deadline = 1;  // nothing to wait for: do not block
  loop_.run_once(deadline);
  const uint64_t now = monotonic_ns();
  if (curl_.deadline_ns() != 0 && curl_.deadline_ns() <= now) curl_.on_timeout();
  fire_timers(now);
  finished_.clear();
  curl_.collect();
}

}  // namespace sluice::health
