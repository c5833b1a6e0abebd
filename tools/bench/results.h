// Everything a run measured, as plain data for the report: one Figure per
// measured row, the one-off figures (Maglev build, memory, apply), the
// targets and any verdict failures. Main thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sluice::bench {

// Median, minimum and maximum of a set of repetitions.
struct Summary {
  double median = 0;
  double min = 0;
  double max = 0;
  double p99 = 0;  // nearest rank
};

Summary summarize(std::vector<double> values);

struct Figure {
  std::string section;  // "scenarios", "sweep-flows", "sweep-vips", "sweep-backends"
  std::string name;     // scenario, or workload within a sweep
  std::string variant;  // "v4/ipip", "v6/gue", or "v4" for the floor
  uint8_t family = 4;
  std::string encap;    // "ipip", "gue", "" for the floor
  std::string io = "direct";  // "direct" (mbufs handed to process_burst) or "ring"
  uint64_t flows = 0;            // distinct flows the packets cycle through
  uint64_t flows_in_table = 0;   // established before the measured passes
  uint32_t vips = 1;
  uint32_t backends_per_vip = 0;
  uint32_t maglev_size = 0;
  uint64_t table_entries = 0;    // connection table capacity
  uint64_t packets_per_rep = 0;
  uint32_t frame_bytes = 0;
  std::vector<double> ns_per_packet;      // one per repetition
  std::vector<double> cycles_per_packet;  // one per repetition
  Summary ns;
  Summary cycles;
  double mpps = 0;       // from the median
  double floor_ns = 0;   // median of the floor it is compared with; 0 if none
  std::map<std::string, uint64_t> verdicts;  // counter changes over the measured repetitions
  uint64_t measured_packets = 0;
  uint64_t rounds = 0;            // timed rounds (one window of mbufs each)
  uint64_t preempted_rounds = 0;  // left out of the timing: the thread was switched out
  std::string error;     // non-empty: the verdict check failed
};

struct MaglevFigure {
  uint32_t table_size = 0;
  uint32_t backends = 0;
  Summary ms;
};

struct MemoryFigure {
  uint32_t bucket_bytes = 0;
  uint32_t entries_per_bucket = 0;
  double entry_bytes = 0;
  uint64_t default_flows = 0;    // ForwardingConfig's flows_per_lcore
  uint64_t default_entries = 0;  // capacity after rounding
  uint64_t default_bytes = 0;
  uint64_t counter_bytes = 0;    // per-lcore, per-VIP and per-backend counters at default limits
};

// A table change through the command ring (tools/bench/table_change.cc).
struct ChangeFigure {
  uint32_t vips = 0;
  uint32_t backends_per_vip = 0;
  uint32_t table_size = 0;
  double initial_apply_ms = 0;          // every VIP in one transaction
  double initial_max_heartbeat_ms = 0;  // oldest heartbeat seen meanwhile
  double initial_apply_2threads_ms = 0;  // with --build-threads 2 (4,096 VIPs only)
  uint32_t reps = 0;
  Summary delta_wall_us;   // one backend's state as a delta: first record to ack
  Summary delta_build_us;  // the dataplane's own validate + build
  uint32_t whole_reps = 0;
  Summary whole_wall_us;   // the same change sent as the whole state
};

struct TargetResult {
  std::string what;      // "established-hot ns/packet"
  std::string variant;
  std::string target;    // "<= 30 ns"
  double measured = 0;
  std::string unit;
  bool met = false;
  std::string note;
};

struct Results {
  std::map<std::string, std::string> machine;
  std::map<std::string, std::string> settings;
  std::vector<Figure> figures;
  std::vector<MaglevFigure> maglev;
  bool have_memory = false;
  MemoryFigure memory;
  std::vector<ChangeFigure> changes;
  std::vector<TargetResult> targets;
  std::vector<std::string> failures;
  double wall_seconds = 0;
};

}  // namespace sluice::bench
