// "Table change at scale" (DESIGN.md section 4): a change travels as
// lb-controlplane sends it, encoded as a transaction, pushed record by
// record onto the command ring of a real shared-memory segment, built by
// the ControlChannel's builder thread and published by a thread that polls
// the channel as the dataplane's main lcore does, then acknowledged on the
// event ring. For 1, 100 and 4,096 VIPs (10 backends each): the initial
// apply of all of them in one transaction (with the oldest heartbeat seen
// while it ran), one backend's state change sent as a delta (what the
// control plane sends now), and the same change sent as the whole state
// (what it sent before deltas).
#include "tools/bench/table_change.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/control_segment.h"
#include "common/table_delta.h"
#include "dataplane/control_channel.h"
#include "dataplane/table_publisher.h"
#include "tools/bench/world.h"

namespace sluice::bench {

namespace {

using Clock = std::chrono::steady_clock;

struct Channel {
  std::unique_ptr<ControlSegment> segment;
  std::unique_ptr<dp::TablePublisher> publisher;
  std::unique_ptr<dp::ControlChannel> channel;
  std::atomic<bool> stop{false};
  std::thread main_lcore;
  uint64_t next_txn = 1;

  ~Channel() {
    stop.store(true);
    if (main_lcore.joinable()) main_lcore.join();
    if (segment) segment->unlink();
  }

  // Sends one transaction; the time from the first record to the ack read,
  // and the oldest heartbeat seen meanwhile. Empty error on success.
  // `patient`: wait for the ack with 100 us sleeps rather than spinning, so
  // that a long build has every core (as lb-controlplane waits).
  std::string send(const TableDelta& delta, double& wall_us, double& build_us,
                   double& max_beat_ms, bool patient = false) {
    const uint64_t txn = next_txn++;
    const std::vector<Record> records = encode_transaction(delta, txn);
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::seconds(60);
    max_beat_ms = 0;
    auto watch = [&] {
      const uint64_t now = monotonic_ns();
      const uint64_t beat = segment->header().heartbeat_ns.load(std::memory_order_acquire);
      if (now > beat) max_beat_ms = std::max(max_beat_ms, static_cast<double>(now - beat) / 1e6);
    };
    for (const Record& r : records) {
      while (!segment->commands().push(r.data(), r.size())) {
        watch();
        if (Clock::now() > deadline) return "the command ring stayed full for 60 s";
      }
    }
    Record ack_record{};
    bool acked = false;
    while (!acked) {
      acked = segment->events().pop(ack_record.data());
      watch();
      if (!acked && patient) std::this_thread::sleep_for(std::chrono::microseconds(100));
      if (!acked && Clock::now() > deadline) return "not acknowledged within 60 s";
    }
    wall_us = std::chrono::duration<double>(Clock::now() - start).count() * 1e6;
    const auto ack = from_record<AckMsg>(ack_record);
    if (ack.h.txn_id != txn) return "an acknowledgement for another transaction";
    if (ack.ok != 1) return "refused: " + std::string(ack.error, std::min(ack.error_len, kMaxErrorLen));
    build_us = static_cast<double>(ack.apply_ns) / 1e3;
    return {};
  }
};

std::string open_channel(Channel& c, const WorldSpec& ws, uint32_t build_threads = 1) {
  TableLimits limits = make_limits(ws);
  c.publisher = std::make_unique<dp::TablePublisher>(limits, 1);
  c.publisher->builder().set_threads(build_threads);
  SegmentParams sp;
  sp.max_vips = limits.max_vips;
  sp.max_backend_id = limits.max_backend_id;
  std::string error;
  // One instance per channel: a live segment's name is its owner's.
  static int channels = 0;
  c.segment = ControlSegment::create(
      "bench-" + std::to_string(getpid()) + "-" + std::to_string(++channels), sp, error);
  if (!c.segment) return error;
  std::atomic<bool> ready{false};
  c.main_lcore = std::thread([&c, &ready] {
    // The EAL pinned this process's first thread to lcore 0, where the
    // sender spins, and threads inherit that: the dataplane's main lcore and
    // its builder thread (created by the channel) get the machine instead.
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) CPU_SET(cpu, &all);
    pthread_setaffinity_np(pthread_self(), sizeof all, &all);
    c.channel = std::make_unique<dp::ControlChannel>(*c.segment, *c.publisher);
    ready.store(true, std::memory_order_release);
    // As lb-dataplane's main loop: poll, reclaim, sleep 100 us when idle.
    while (!c.stop.load(std::memory_order_relaxed)) {
      if (!c.channel->poll()) std::this_thread::sleep_for(std::chrono::microseconds(100));
      c.publisher->reclaim();
    }
    c.channel.reset();
  });
  while (!ready.load(std::memory_order_acquire)) std::this_thread::yield();
  return {};
}

void one_scale(RunContext& rc, uint32_t vips) {
  WorldSpec ws;
  ws.family = 4;
  ws.vips = vips;
  ws.backends_per_vip = 10;
  ws.table_size = rc.opt.quick ? 4099 : kMaglevDefaultTableSize;
  const std::string label = "table-change vips=" + std::to_string(vips);
  Channel c;
  if (std::string e = open_channel(c, ws); !e.empty()) {
    rc.results.failures.push_back(label + ": " + e);
    return;
  }
  TableConfig config = make_table_config(ws);
  ChangeFigure f;
  f.vips = vips;
  f.backends_per_vip = ws.backends_per_vip;
  f.table_size = ws.table_size;
  double wall = 0, build = 0, beat = 0;
  if (std::string e = c.send(full_delta(config), wall, build, beat, true); !e.empty()) {
    rc.results.failures.push_back(label + " initial apply: " + e);
    return;
  }
  f.initial_apply_ms = wall / 1e3;
  f.initial_max_heartbeat_ms = beat;
  if (vips > 100) {
    // The same apply with two build threads (lb-dataplane --build-threads 2).
    Channel c2;
    if (std::string e = open_channel(c2, ws, 2); !e.empty()) {
      rc.results.failures.push_back(label + ": " + e);
      return;
    }
    double beat2 = 0;
    if (std::string e = c2.send(full_delta(config), wall, build, beat2, true); !e.empty()) {
      rc.results.failures.push_back(label + " initial apply, 2 threads: " + e);
      return;
    }
    f.initial_apply_2threads_ms = wall / 1e3;
  }

  const uint32_t reps = rc.opt.quick ? 20 : 200;
  const uint32_t whole_reps = rc.opt.quick ? 2 : (vips > 100 ? 5 : 50);
  std::vector<double> delta_wall, delta_build, whole_wall;
  for (uint32_t i = 0; i < reps + whole_reps; ++i) {
    // One backend of a VIP spread over the table starts or stops draining.
    VipConfig& vip = config.vips[(i * 2654435761u) % config.vips.size()];
    const TableConfig before = config;
    BackendConfig& be = vip.backends[i % vip.backends.size()];
    be.state = be.state == BackendState::kActive ? BackendState::kDraining : BackendState::kActive;
    const bool whole = i >= reps;
    const TableDelta d = whole ? full_delta(config) : diff_configs(before, config);
    if (std::string e = c.send(d, wall, build, beat); !e.empty()) {
      rc.results.failures.push_back(label + " change " + std::to_string(i) + ": " + e);
      return;
    }
    (whole ? whole_wall : delta_wall).push_back(wall);
    if (!whole) delta_build.push_back(build);
  }
  f.reps = reps;
  f.delta_wall_us = summarize(delta_wall);
  f.delta_build_us = summarize(delta_build);
  f.whole_reps = whole_reps;
  f.whole_wall_us = summarize(whole_wall);
  rc.results.changes.push_back(f);
  rc.progress(label + ": initial " + std::to_string(f.initial_apply_ms) + " ms, delta p99 " +
              std::to_string(f.delta_wall_us.p99) + " us, whole state " +
              std::to_string(f.whole_wall_us.median) + " us");
}

}  // namespace

void run_table_change(RunContext& rc) {
  for (uint32_t vips : {1u, 100u, 4096u}) {
    if (rc.opt.quick && vips > 100) break;
    one_scale(rc, vips);
    if (!rc.results.failures.empty()) return;
  }
}

}  // namespace sluice::bench
