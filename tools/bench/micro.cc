#include "tools/bench/micro.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <string>
#include <vector>

#include "common/control_segment.h"
#include "common/maglev.h"
#include "dataplane/control_channel.h"
#include "dataplane/conn_table.h"
#include "dataplane/table_publisher.h"
#include "dataplane/worker.h"
#include "tools/bench/world.h"

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
  const dp::ConnTable table(d.flows_per_lcore, 1);  // mapped, never touched
  m.default_entries = table.capacity();
  m.default_bytes = table.memory_bytes();
  m.counter_bytes = sizeof(LcoreCounters) +
                    (uint64_t{d.max_vips} + 1 + d.max_backend_id + 1) * sizeof(TrafficCounters);
  rc.results.memory = m;
  rc.results.have_memory = true;
}

// The change travels as lb-controlplane sends it: encoded as a transaction,
// pushed record by record onto the command ring of a real shared-memory
// segment, applied by a ControlChannel polled on another thread (the
// dataplane's main lcore), acknowledged on the event ring. Timed from the
// first record pushed to the acknowledgement read.
void apply_figure(RunContext& rc) {
  WorldSpec ws;
  ws.family = 4;
  ws.backends_per_vip = 100;
  // No registered readers: a retired snapshot is freed inside apply(), as
  // it would be once the workers have reported quiescence.
  dp::TablePublisher publisher(make_limits(ws), 1);
  SegmentParams sp;
  sp.max_vips = make_limits(ws).max_vips;
  sp.max_backend_id = make_limits(ws).max_backend_id;
  std::string error;
  auto segment = ControlSegment::create("bench-" + std::to_string(getpid()), sp, error);
  if (!segment) {
    rc.results.failures.push_back("apply-latency: " + error);
    return;
  }
  dp::ControlChannel channel(*segment, publisher);
  std::atomic<bool> stop{false};
  std::thread main_lcore([&] {
    // The EAL pinned this process's first thread to lcore 0 and threads
    // inherit that; the dataplane's main lcore has a core of its own.
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int c = 0; c < CPU_SETSIZE; ++c) CPU_SET(c, &all);
    pthread_setaffinity_np(pthread_self(), sizeof all, &all);
    while (!stop.load(std::memory_order_relaxed)) {
      if (!channel.poll()) std::this_thread::yield();
    }
  });

  TableConfig config = make_table_config(ws);
  const uint32_t reps = rc.opt.quick ? 5 : 200;
  std::vector<double> wall, build;
  for (uint32_t i = 0; i <= reps && rc.results.failures.empty(); ++i) {
    // The change: one backend starts or stops draining (i == 0 installs the
    // base configuration and is not timed).
    if (i > 0) {
      BackendConfig& be = config.vips[0].backends[i % 100];
      be.state = be.state == BackendState::kActive ? BackendState::kDraining
                                                   : BackendState::kActive;
    }
    const std::vector<Record> records = encode_transaction(config, i + 1);
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::seconds(5);
    for (const Record& r : records) {
      while (!segment->commands().push(r.data(), r.size())) {
        if (Clock::now() > deadline) break;  // a full ring waits, bounded
      }
    }
    Record ack_record{};
    bool acked = false;
    while (!acked && Clock::now() < deadline) {
      acked = segment->events().pop(ack_record.data());
    }
    const double us = seconds_since(start) * 1e6;
    const auto ack = from_record<AckMsg>(ack_record);
    if (!acked || ack.h.txn_id != i + 1 || ack.ok != 1) {
      rc.results.failures.push_back("apply-latency: transaction " + std::to_string(i + 1) +
                                    (acked ? " refused: " + std::string(ack.error, ack.error_len)
                                           : " not acknowledged within 5 s"));
      break;
    }
    if (i == 0) continue;
    wall.push_back(us);
    build.push_back(static_cast<double>(ack.apply_ns) / 1e3);
  }
  stop.store(true);
  main_lcore.join();
  segment->unlink();
  if (!rc.results.failures.empty()) return;
  ApplyFigure a;
  a.vips = 1;
  a.backends = 100;
  a.table_size = ws.table_size;
  a.reps = reps;
  a.wall_us = summarize(wall);
  a.build_us = summarize(build);
  rc.results.apply = a;
  rc.results.have_apply = true;
  rc.progress("change to acknowledgement over the ring: " + std::to_string(a.wall_us.median) +
              " us");
}

}  // namespace

void run_micro(RunContext& rc) {
  if (selected(rc.opt, "maglev-build")) maglev_figures(rc);
  if (selected(rc.opt, "conn-memory")) memory_figure(rc);
  if (selected(rc.opt, "apply-latency")) apply_figure(rc);
}

}  // namespace sluice::bench
