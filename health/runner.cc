#include "health/runner.h"

namespace sluice::health {

namespace {
// The thread looks at its inbox at least this often even when nothing
// wakes it (a missed wake-up costs at most this much).
constexpr uint64_t kMaxSleepNs = 200'000'000;
}  // namespace

Runner::Runner() : thread_([this] { run(); }) {}

Runner::~Runner() {
  stop_.store(true, std::memory_order_release);
  loop_.wake();
  thread_.join();
}

void Runner::set_targets(std::vector<Target> targets) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    new_targets_ = std::move(targets);
  }
  loop_.wake();
}

void Runner::probe_now(uint64_t key) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    probe_now_.push_back(key);
  }
  loop_.wake();
}

std::vector<ProbeReport> Runner::take_reports() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ProbeReport> out;
  out.swap(reports_);
  return out;
}

void Runner::run() {
  std::vector<ProbeReport> local;
  Checker checker(loop_, [&](const ProbeReport& r) { local.push_back(r); });
  while (!stop_.load(std::memory_order_acquire)) {
    std::optional<std::vector<Target>> targets;
    std::vector<uint64_t> now_keys;
    {
      std::lock_guard<std::mutex> lock(mu_);
      targets.swap(new_targets_);
      now_keys.swap(probe_now_);
      if (!local.empty()) {
        reports_.insert(reports_.end(), std::make_move_iterator(local.begin()),
                        std::make_move_iterator(local.end()));
        local.clear();
      }
    }
    if (targets) checker.set_targets(*targets);
    for (uint64_t key : now_keys) checker.probe_now(key);
    checker.run_once(monotonic_ns() + kMaxSleepNs);
  }
}

}  // namespace sluice::health
