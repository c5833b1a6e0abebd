// lb-bench's own command-line options (after the EAL's, past "--"), read
// with Boost.Program_options. Start-up only; main thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::bench {

struct BenchOptions {
  bool json = false;       // JSON document on stdout (the table goes to stderr)
  bool quick = false;      // short run for scripts/test: small counts, 2 reps
  bool list = false;       // print the scenario names and exit
  std::vector<std::string> scenarios;  // only these (empty: all)
  uint32_t reps = 5;
  uint64_t packets = 0;    // per repetition (set by parse_options: 1048576, --quick 16384)
  uint32_t burst = 32;     // packets per process_burst call, at most kMaxBurst
  uint32_t window = 1024;  // mbufs prepared per timed round
  uint64_t seed = 1;       // packet order, synthetic entries
  bool v4 = true, v6 = true, ipip = true, gue = true;
  // Largest point of the flows sweep (full run: 10M).
  uint64_t max_sweep_flows = 0;
};

// Packets per repetition when --packets is not given.
uint64_t default_packets(bool quick);

// Everything after "--". Returns the options, or nullopt after printing a
// message (to stderr for errors, stdout for --help); `exit_code` says how
// the program should end then.
std::optional<BenchOptions> parse_options(int argc, char** argv, int& exit_code);

// The --help text (printed without starting the EAL).
std::string options_help();

// Whether the scenario or section `name` was selected.
bool selected(const BenchOptions& o, const std::string& name);

// Every name --scenario accepts, in run order.
const std::vector<std::string>& scenario_names();

}  // namespace sluice::bench
