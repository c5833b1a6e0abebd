#include "tools/bench/micro.h"

#include <chrono>
#include <string>
#include <vector>

#include "common/maglev.h"
#include "dataplane/conn_table.h"
#include "dataplane/worker.h"

namespace sluice::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void maglev_figures(RunContext& rc) {
  const uint32_t reps = rc.opt.reps < 5 && !rc.opt.quick ? 5 : rc.opt.reps;
  for (const auto& [size, count] : {std::pair<uint32_t, uint32_t>{65537, 1000}, {655373, 10000}}) {
    std::vector<std::string> names(count);
    std::vector<MaglevBackend> backends(count);
    for (uint32_t i = 0; i < count; ++i) {
      names[i] = "backend-" + std::to_string(i);
      backends[i] = MaglevBackend{names[i], 1, i + 1};
    }
    std::vector<double> ms;
    std::vector<uint32_t> table;
    for (uint32_t r = 0; r < reps; ++r) {
      table.clear();
      const auto start = Clock::now();
      const std::string error = maglev_build(backends, size, table);
      const double t = seconds_since(start) * 1e3;
      if (!error.empty() || table.size() != size) {
        rc.results.failures.push_back("maglev-build M=" + std::to_string(size) + ": " + error);
        return;
      }
      ms.push_back(t);
    }
    MaglevFigure f;
    f.table_size = size;
    f.backends = count;
    f.ms = summarize(ms);
    rc.results.maglev.push_back(f);
    rc.progress("maglev-build M=" + std::to_string(size) + " backends=" + std::to_string(count) +
                ": " + std::to_string(f.ms.median) + " ms");
  }
}

void memory_figure(RunContext& rc) {
  const dp::ForwardingConfig d;
  MemoryFigure m;
  m.bucket_bytes = sizeof(dp::ConnBucket);
  m.entries_per_bucket = dp::kConnEntriesPerBucket;
  m.entry_bytes = static_cast<double>(sizeof(dp::ConnBucket)) / dp::kConnEntriesPerBucket;
  m.default_flows = d.flows_per_lcore;
  const uint32_t timeouts[kConnStateCount] = {1, 1, 1, 1};
  const dp::ConnTable table(d.flows_per_lcore, timeouts);  // mapped, never touched
  m.default_entries = table.capacity();
  m.default_bytes = table.memory_bytes();
  m.counter_bytes = sizeof(LcoreCounters) +
                    (uint64_t{d.max_vips} + 1 + d.max_backend_id + 1) * sizeof(TrafficCounters);
  rc.results.memory = m;
  rc.results.have_memory = true;
}

}  // namespace

void run_micro(RunContext& rc) {
  if (selected(rc.opt, "maglev-build")) maglev_figures(rc);
  if (selected(rc.opt, "conn-memory")) memory_figure(rc);
}

}  // namespace sluice::bench
