// A Checker on its own thread (one thread for all backends, DESIGN.md
// section 5), so that the prober's timing never waits for the control
// plane's loop (state file syncs, large configuration changes) and the
// other way round. The owner hands it targets and on-demand probes and
// collects the reports; both directions go through one mutex, and the
// prober's loop is woken by an eventfd. Methods: any one thread (the
// control plane's loop).
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "health/checker.h"

namespace sluice::health {

class Runner {
 public:
  Runner();   // starts the thread; throws std::runtime_error if it cannot
  ~Runner();  // stops and joins it
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  void set_targets(std::vector<Target> targets);
  void probe_now(uint64_t key);
  // Reports since the last call, in the order the probes ended.
  std::vector<ProbeReport> take_reports();

 private:
  void run();

  EventLoop loop_;
  std::mutex mu_;
  std::optional<std::vector<Target>> new_targets_;
  std::vector<uint64_t> probe_now_;
  std::vector<ProbeReport> reports_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace sluice::health
